"""Usage -> cost: exact Decimal arithmetic from the price row in force when the request came; pure (no I/O).

The rates are the price row's, or, when the request's prompt is above a long-context tier's threshold, that
tier's for the whole request (the highest tier it passes), then a time window's (UTC weekday and minutes, as
DeepSeek's off-peak hours) when the request came inside one. Prompt tokens split into cache reads, 5-minute and
1-hour cache writes, audio and the rest; completion tokens into reasoning (at the reasoning rate where the model
has one, else the output rate) and the rest. A rate the row lacks falls back: cached input, cache writes and
audio to the input rate, reasoning to the output rate."""
import time
from datetime import datetime, timezone
from decimal import Decimal

from gateway.values import Price, Usage

_MTOK = Decimal(1_000_000)
_SIX = Decimal("0.000001")


def rates_at(price: Price, usage: Usage, at: float | None = None) -> dict:
    rates = {"input": price.input, "output": price.output, "cached_input": price.cached_input,
             "cache_write": price.cache_write, "cache_write_1h": price.cache_write_1h,
             "reasoning": price.reasoning, "audio_input": price.audio_input}
    passed = [t for t in price.tiers if usage.prompt_tokens > t.above]
    if passed:
        rates.update({k: v for k, v in max(passed, key=lambda t: t.above).rates.items() if v is not None})
    if price.windows:
        when = datetime.fromtimestamp(time.time() if at is None else at, timezone.utc)
        minute = when.hour * 60 + when.minute
        for w in price.windows:
            if w.holds(when.weekday(), minute):
                rates.update({k: v for k, v in w.rates.items() if v is not None})
                break
    return rates


def cost_of(usage: Usage | None, price: Price | None, at: float | None = None) -> Decimal | None:
    """USD for this usage at this price (at time `at`, default now); None when either is unknown (never a made-up
    zero)."""
    if usage is None or price is None or price.input is None or price.output is None:
        return None
    r = rates_at(price, usage, at)
    inp, out = r["input"], r["output"]
    cached, writes, write_1h = usage.cached_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens
    audio = usage.audio_input_tokens
    fresh = max(0, usage.prompt_tokens - cached - writes - audio)
    reasoning = usage.reasoning_tokens if r["reasoning"] is not None else 0
    total = (fresh * inp + cached * _or(r["cached_input"], inp) + (writes - write_1h) * _or(r["cache_write"], inp)
             + write_1h * _or(r["cache_write_1h"], _or(r["cache_write"], inp)) + audio * _or(r["audio_input"], inp)
             + (usage.completion_tokens - reasoning) * out + reasoning * _or(r["reasoning"], out))
    return total / _MTOK


def _or(rate, fallback):
    return fallback if rate is None else rate


def format_cost(cost: Decimal) -> str:
    return str(cost.quantize(_SIX))
