"""Usage -> cost: exact Decimal arithmetic from a target's price snapshot; pure (no I/O, no database)."""
from decimal import Decimal

from gateway.values import Price, Usage

_MTOK = Decimal(1_000_000)
_SIX = Decimal("0.000001")


def cost_of(usage: Usage | None, price: Price | None) -> Decimal | None:
    """USD for this usage at this price; None when either is unknown (never a made-up zero)."""
    if usage is None or price is None or price.input is None or price.output is None:
        return None
    cached = usage.cached_tokens
    write = usage.cache_write_tokens
    fresh = max(0, usage.prompt_tokens - cached - write)
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write if price.cache_write is not None else price.input
    total = (fresh * price.input + cached * cached_price + write * write_price
             + usage.completion_tokens * price.output)
    return total / _MTOK


def format_cost(cost: Decimal) -> str:
    return str(cost.quantize(_SIX))
