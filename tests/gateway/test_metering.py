"""Cost from usage and a price snapshot: Decimal, cache reads and writes priced apart, unknown stays unknown."""
from decimal import Decimal

from gateway.metering import cost_of, format_cost
from gateway.providers.base import Price, Usage

PRICE = Price(version=3, input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0.30"),
              cache_write=Decimal("3.75"))


def test_cost_prices_fresh_cached_and_written_input_apart():
    usage = Usage(prompt_tokens=6244, completion_tokens=90, cached_tokens=4096, cache_write_tokens=2048)
    expected = (Decimal(100) * 3 + Decimal(4096) * Decimal("0.30") + Decimal(2048) * Decimal("3.75")
                + Decimal(90) * 15) / 10**6
    assert cost_of(usage, PRICE) == expected
    assert format_cost(expected) == "0.010559"


def test_missing_cache_prices_fall_back_to_the_input_price():
    price = Price(version=1, input=Decimal("1"), output=Decimal("2"))
    assert cost_of(Usage(prompt_tokens=10, completion_tokens=5, cached_tokens=4), price) == Decimal(20) / 10**6


def test_unknown_usage_or_price_is_none_never_zero():
    assert cost_of(None, PRICE) is None
    assert cost_of(Usage(prompt_tokens=1), None) is None
    assert cost_of(Usage(prompt_tokens=1), Price(version=1, input=None, output=Decimal(1))) is None
    assert cost_of(Usage(), PRICE) == 0                 # known zero usage is a real zero


def test_usage_as_openai_keeps_inclusion_rules():
    u = Usage(prompt_tokens=100, completion_tokens=40, cached_tokens=30, reasoning_tokens=25)
    body = u.as_openai()
    assert body["total_tokens"] == 140
    assert body["prompt_tokens_details"]["cached_tokens"] == 30
    assert body["completion_tokens_details"]["reasoning_tokens"] == 25
