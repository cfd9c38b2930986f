"""Costs, computed by hand, for each provider's own usage fields and for the price rules written as data: cache
reads and 5-minute / 1-hour writes, reasoning and audio rates, long-context tiers and time windows."""
from datetime import datetime, timezone
from decimal import Decimal

from gateway.pricing import cost_of
from gateway.prices import price_of
from gateway.providers.anthropic.response import usage_from as anthropic_usage
from gateway.providers.gemini.response import usage_of as gemini_usage
from gateway.providers.openai.response import usage_from_openai
from gateway.values import Price, Tier, Usage, Window
from models import PriceRow

D = Decimal


def at(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_openai_cached_tokens_are_inside_the_prompt_and_reasoning_inside_the_completion():
    usage = usage_from_openai({"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
                               "prompt_tokens_details": {"cached_tokens": 400},
                               "completion_tokens_details": {"reasoning_tokens": 200}})
    mini = Price(1, D("0.15"), D("0.60"), cached_input=D("0.075"))
    assert cost_of(usage, mini) == (600 * D("0.15") + 400 * D("0.075") + 500 * D("0.60")) / 10**6 == D("0.00042")


def test_anthropic_input_excludes_cache_reads_and_writes_and_splits_writes_by_lifetime():
    usage = anthropic_usage({"input_tokens": 100, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 3000,
                             "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                             "output_tokens": 50})
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == \
        (5100, 2000, 3000, 2000)
    sonnet = Price(1, D(3), D(15), cached_input=D("0.30"), cache_write=D("3.75"), cache_write_1h=D(6))
    assert cost_of(usage, sonnet) == (100 * 3 + 2000 * D("0.30") + 1000 * D("3.75") + 2000 * 6 + 50 * 15) / D(10**6)
    assert cost_of(usage, sonnet) == D("0.0174")


def test_gemini_thoughts_are_output_and_audio_input_has_its_rate():
    usage = gemini_usage({"promptTokenCount": 1000, "candidatesTokenCount": 100, "thoughtsTokenCount": 50,
                          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 700},
                                                  {"modality": "AUDIO", "tokenCount": 300}]})
    flash = Price(1, D("0.30"), D("2.50"), audio_input=D("1.00"))
    assert (usage.completion_tokens, usage.reasoning_tokens, usage.audio_input_tokens) == (150, 50, 300)
    assert cost_of(usage, flash) == (700 * D("0.30") + 300 * D(1) + 150 * D("2.50")) / 10**6 == D("0.000885")


def test_xai_reasoning_outside_the_completion_is_added_and_deepseek_cache_hits_are_cached():
    xai = usage_from_openai({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 180,
                             "completion_tokens_details": {"reasoning_tokens": 30}})
    assert xai.completion_tokens == 80
    deepseek = usage_from_openai({"prompt_tokens": 1000, "completion_tokens": 10, "prompt_cache_hit_tokens": 600,
                                  "prompt_cache_miss_tokens": 400})
    price = Price(1, D("0.27"), D("1.10"), cached_input=D("0.07"))
    assert cost_of(deepseek, price) == (400 * D("0.27") + 600 * D("0.07") + 10 * D("1.10")) / 10**6


def test_a_long_context_tier_bills_the_whole_request_at_its_rates():
    pro = Price(1, D("1.25"), D(10), tiers=(Tier(200_000, {"input": D("2.50"), "output": D(15)}),))
    big, small = Usage(prompt_tokens=250_000, completion_tokens=1000), Usage(prompt_tokens=200_000, completion_tokens=1000)
    assert cost_of(big, pro) == (250_000 * D("2.50") + 1000 * 15) / 10**6 == D("0.64")
    assert cost_of(small, pro) == (200_000 * D("1.25") + 1000 * 10) / 10**6      # at the threshold: not above it


def test_a_time_window_bills_at_its_rates_also_past_midnight():
    off_peak = Window(tuple(range(7)), 16 * 60 + 30, 30, {"input": D("0.135"), "output": D("0.55")})
    price = Price(1, D("0.27"), D("1.10"), windows=(off_peak,))
    u = Usage(prompt_tokens=1000, completion_tokens=1000)
    assert cost_of(u, price, at(2026, 12, 1, 17, 0)) == D("0.000685")            # inside: half price
    assert cost_of(u, price, at(2026, 12, 2, 0, 15)) == D("0.000685")            # after midnight, still inside
    assert cost_of(u, price, at(2026, 12, 2, 0, 30)) == D("0.00137")             # the window has ended
    weekdays = Window((0, 1, 2, 3, 4), 0, 24 * 60 - 1, {"input": D(0)})
    sunday = Price(1, D(1), D(1), windows=(weekdays,))
    assert cost_of(Usage(prompt_tokens=10), sunday, at(2026, 12, 6, 12)) == D("0.00001")   # a Sunday: not in it


def test_reasoning_bills_at_its_own_rate_where_the_model_has_one():
    price = Price(1, D(1), D(10), reasoning=D(20))
    assert cost_of(Usage(prompt_tokens=0, completion_tokens=300, reasoning_tokens=100), price) == \
        (200 * 10 + 100 * 20) / D(10**6)


def test_a_price_row_with_rules_reads_back_as_the_same_price():
    row = PriceRow(id=7, slug="deepseek/deepseek-chat", effective_from=datetime(2026, 12, 1), version=3,
                   input_per_mtok=D("0.27"), output_per_mtok=D("1.10"),
                   rules='{"tiers": [], "windows": [{"days": [0,1,2,3,4,5,6], "from": "16:30", "to": "00:30", '
                         '"input_per_mtok": "0.135", "output_per_mtok": "0.55"}]}')
    price = price_of(row)
    assert (price.id, price.version, price.input, price.windows[0].start_min, price.windows[0].end_min) == \
        (7, 3, D("0.27"), 990, 30)
    assert price.effective_from == at(2026, 12, 1)
