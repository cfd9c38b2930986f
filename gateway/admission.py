"""The admit step of a request that spends (chat completions, responses), once its body is valid and its model
resolved, so a 401 or a 400 of ours never counts: the request rate (limits.py), then one reservation on the ledger
of every token limit, budget and request quota of the key and of its team (ledger.py). When the request is over
(`settle`, from the handover) each counter moves to what it really used. The `x-ratelimit-*` headers of the
tightest request and token limits are left for the response (in `g`).

What is reserved: tokens, the prompt's estimate (`estimate_prompt_tokens`) plus the output cap (the request's
max_tokens / max_completion_tokens / max_output_tokens, else the model's max_output, else 4096); money, those
tokens at the dearest of the plan's targets. Settled: the usage the provider reported and its cost; a request
that ended without usage after an upstream answered keeps its reservation (it may have spent it), one that never
reached an answer releases it; a request that ended 400 or 401 gives its quota request back."""
import time
from dataclasses import dataclass
from decimal import Decimal

from flask import g

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from gateway.ledger import Charge, Ledger, Seed, to_units
from gateway.limits import RateState, RequestRates
from gateway.periods import duration, window
from gateway.record import RequestRecord
from gateway.routing import RoutePlan

DEFAULT_MAX_OUTPUT = 4096
_MAX_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_DATA_URL_TOKENS = 1000          # an inline image or file: a flat estimate instead of its base64 length


def estimate_prompt_tokens(body) -> int:
    """A generous count of the prompt's tokens: a third of its text's characters (tokens average about four),
    plus a flat count per inline image or file."""
    chars, inline = 0, 0
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if node.startswith("data:"):
                inline += 1
            else:
                chars += len(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return chars // 3 + 1 + inline * _DATA_URL_TOKENS


def output_cap(body: dict, plan: RoutePlan) -> int:
    for name in _MAX_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    caps = [t.capabilities.get("max_output") for t in plan.targets]
    known = [c for c in caps if isinstance(c, int) and c > 0]
    return max(known) if known else DEFAULT_MAX_OUTPUT


def worst_cost(plan: RoutePlan, prompt: int, output: int) -> Decimal:
    worst = Decimal(0)
    for t in plan.targets:
        p = t.price
        if p is None:
            continue
        cost = (Decimal(prompt) * (p.input or 0) + Decimal(output) * (p.output or 0)) / Decimal(1_000_000)
        worst = max(worst, cost)
    return worst


@dataclass
class Reservation:
    charges: list[Charge]

    def actual(self, rec: RequestRecord) -> list[int]:
        served = rec.provider is not None           # an upstream answered: it may have spent
        out = []
        for c in self.charges:
            kind = c.counter.split(":", 1)[0]
            if kind == "quota":
                out.append(0 if rec.status in (400, 401) else c.amount)
            elif kind == "tpm":
                out.append(rec.usage.total_tokens if rec.usage is not None else (c.amount if served else 0))
            elif rec.cost is not None:
                out.append(to_units(rec.cost))
            else:
                out.append(0 if rec.usage is not None or not served else c.amount)
        return out


def _charges(key: KeyRecord, tokens: int, cost_units: int, now: float) -> list[Charge]:
    out: list[Charge] = []
    minute, _, minute_end = window("minute", now)
    month, month_start, month_end = window("month", now)
    subjects = [(f"key:{key.id}", "this key's", key.tpm_limit, key.budget_usd, key.budget_period, key.request_quota)]
    if key.team is not None:
        t = key.team
        subjects.append((f"team:{t.id}", f"team {t.name}'s", t.tpm_limit, t.budget_usd, t.budget_period,
                         t.request_quota))
    for subject, whose, tpm, budget, period, quota in subjects:
        if tpm:
            out.append(Charge(f"tpm:{subject}:{minute}", tokens, tpm, True, 120, f"{whose} token limit per minute",
                              False, minute_end))
        if budget is not None:
            name, first_day, resets_at = window(period, now)
            label = f"{whose} budget" if period == "total" else f"{whose} {period}ly budget".replace("dayly", "daily")
            out.append(Charge(f"spend:{subject}:{name}", cost_units, to_units(budget), False,
                              int(resets_at - now) + 86400 if resets_at else None, label, True, resets_at,
                              Seed(subject, first_day, "spent_usd")))
        if quota:
            out.append(Charge(f"quota:{subject}:{month}", 1, quota, False, int(month_end - now) + 86400,
                              f"{whose} monthly request quota", True, month_end,
                              Seed(subject, month_start, "requests")))
    return out


def _headers(rate: RateState | None, tokens: tuple[int, int, float] | None, now: float) -> dict[str, str]:
    out = {}
    if rate is not None:
        out.update({"x-ratelimit-limit-requests": str(rate.limit),
                    "x-ratelimit-remaining-requests": str(max(0, rate.remaining)),
                    "x-ratelimit-reset-requests": duration(max(0.0, rate.reset_at - now))})
    if tokens is not None:
        limit, remaining, reset_at = tokens
        out.update({"x-ratelimit-limit-tokens": str(limit), "x-ratelimit-remaining-tokens": str(max(0, remaining)),
                    "x-ratelimit-reset-tokens": duration(max(0.0, reset_at - now))})
    return out


class Admission:
    def __init__(self, rates: RequestRates, ledger: Ledger):
        self.rates, self.ledger = rates, ledger

    def count_request(self, key: KeyRecord) -> None:
        """A request that spends nothing (a model list, a stored response): its request rate only."""
        now = time.time()
        try:
            rate = self.rates.hit(key)
        except exc.RateLimited as e:
            g.rate_headers = _headers(getattr(e, "rate_state", None), None, now)
            raise
        g.rate_headers = _headers(rate, None, now)

    def admit(self, key: KeyRecord, rec: RequestRecord, plan: RoutePlan, body: dict) -> None:
        now = time.time()
        self.count_request(key)
        rate_headers = g.rate_headers
        prompt, output = estimate_prompt_tokens(body), output_cap(body, plan)
        charges = _charges(key, prompt + output, to_units(worst_cost(plan, prompt, output)), now)
        try:
            values = self.ledger.reserve(charges, now)
        except exc.GatewayError:
            g.rate_headers = rate_headers
            raise
        if values is None:                       # the counters failed: let it through, settle nothing
            return
        rec.reserved(Reservation(charges))
        tpm = [(c.limit, c.limit - v, c.resets_at) for c, v in zip(charges, values) if c.counter.startswith("tpm:")]
        g.rate_headers = {**rate_headers, **_headers(None, min(tpm, key=lambda t: t[1]) if tpm else None, now)}

    def settle(self, rec: RequestRecord) -> None:
        reservation = rec.reservation
        if isinstance(reservation, Reservation):
            self.ledger.settle(reservation.charges, reservation.actual(rec))
