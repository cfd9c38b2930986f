"""The admit step of a request that spends (chat completions, responses), once its body is valid and its model
resolved, so a 401 or a 400 of ours never counts: one reservation on the ledger (ledger.py) of every request rate,
token limit, budget and request quota of the key and of its team, all or nothing, in one round trip to Redis when
it is set. When the request is over (`settle`, from the handover) each counter moves to what it really used. The
`x-ratelimit-*` headers of the tightest request and token limits are left for the response (in `g`). A request
that spends nothing (a model list, a stored response) counts against the request rates only (`count_request`).

What is reserved: tokens, the prompt's estimate (`estimate_prompt_tokens`, never below what providers count)
plus the output cap (the request's max_tokens / max_completion_tokens / max_output_tokens, else the model's
max_output, else 4096); money, those tokens at the dearest of the plan's targets. Settled: the usage the
provider reported and its cost; a request that ended without usage after an upstream answered keeps its
reservation (it may have spent it), one that never reached an answer releases it; a request that ended 400 or
401 gives its quota request back."""
import time
from dataclasses import dataclass
from decimal import Decimal

from flask import g

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from gateway.ledger import Charge, Ledger, Seed, to_units
from gateway.limits import Rate
from gateway.periods import duration, window
from gateway.record import RequestRecord
from gateway.routing import RoutePlan

DEFAULT_MAX_OUTPUT = 4096
_MAX_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_DATA_URL_TOKENS = 1000          # an inline image or file: a flat estimate instead of its base64 length


def estimate_prompt_tokens(body) -> int:
    """A generous count of the prompt's tokens: a third of its text's characters (tokens average about four),
    4 per object (each message costs a few tokens of framing), 3 for the reply's priming, and a flat count per
    inline image or file. It must not fall below what providers count: a budget's bound rests on it."""
    chars, inline, objects = 0, 0, 0
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if node.startswith("data:"):
                inline += 1
            else:
                chars += len(node)
        elif isinstance(node, dict):
            objects += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return chars // 3 + 1 + 4 * objects + 3 + inline * _DATA_URL_TOKENS


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
            if kind in ("quota", "rpm"):
                out.append(0 if kind == "quota" and rec.status in (400, 401) else c.amount)
            elif kind == "tpm":
                out.append(rec.usage.total_tokens if rec.usage is not None else (c.amount if served else 0))
            elif rec.cost is not None:
                out.append(to_units(rec.cost))
            else:
                out.append(0 if rec.usage is not None or not served else c.amount)
        return out


def _rate_charges(key: KeyRecord, default: Rate | None, now: float) -> list[Charge]:
    out = []
    rates = [(f"key:{key.id}", Rate(key.rpm_limit, "minute") if key.rpm_limit else default,
              "this key's requests per minute" if key.rpm_limit else "the default requests per minute of a key")]
    if key.team is not None and key.team.rpm_limit:
        rates.append((f"team:{key.team.id}", Rate(key.team.rpm_limit, "minute"),
                      f"team {key.team.name}'s requests per minute"))
    for subject, rate, what in rates:
        if rate is None:
            continue
        name, _, resets_at = window(rate.per, now)
        if rate.per != "minute":
            what = what.replace("per minute", f"per {rate.per}")
        out.append(Charge(f"rpm:{subject}:{name}", 1, rate.amount, True, int(resets_at - now) + 60, what, False,
                          resets_at))
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


def _headers(charges: list[Charge], values: list[int] | None, now: float, refused: Charge | None = None
             ) -> dict[str, str]:
    """x-ratelimit-* of the tightest request rate and token limit (OpenAI's headers), after this request."""
    out = {}
    for kind, suffix in (("rpm:", "requests"), ("tpm:", "tokens")):
        if refused is not None and refused.counter.startswith(kind):
            states = [(refused.limit, 0, refused.resets_at)]
        elif values is not None:
            states = [(c.limit, c.limit - v, c.resets_at) for c, v in zip(charges, values)
                      if c.counter.startswith(kind)]
        else:
            states = []
        if states:
            limit, remaining, reset_at = min(states, key=lambda s: s[1])
            out.update({f"x-ratelimit-limit-{suffix}": str(limit),
                        f"x-ratelimit-remaining-{suffix}": str(max(0, remaining)),
                        f"x-ratelimit-reset-{suffix}": duration(max(0.0, (reset_at or now) - now))})
    return out


class Admission:
    def __init__(self, ledger: Ledger, default_rate: Rate | None = None):
        self.ledger, self.default_rate = ledger, default_rate

    def _reserve(self, charges: list[Charge], now: float) -> list[int] | None:
        try:
            values = self.ledger.reserve(charges, now)
        except exc.GatewayError as e:
            g.rate_headers = _headers(charges, None, now, getattr(e, "charge", None))
            raise
        g.rate_headers = _headers(charges, values, now)
        return values

    def count_request(self, key: KeyRecord) -> None:
        """A request that spends nothing (a model list, a stored response): its request rates only."""
        now = time.time()
        self._reserve(_rate_charges(key, self.default_rate, now), now)

    def admit(self, key: KeyRecord, rec: RequestRecord, plan: RoutePlan, body: dict) -> None:
        now = time.time()
        prompt, output = estimate_prompt_tokens(body), output_cap(body, plan)
        charges = _rate_charges(key, self.default_rate, now) + \
            _charges(key, prompt + output, to_units(worst_cost(plan, prompt, output)), now)
        if self._reserve(charges, now) is not None:     # None: the counters failed, it goes through uncounted
            rec.reserved(Reservation(charges))

    def settle(self, rec: RequestRecord) -> None:
        reservation = rec.reservation
        if isinstance(reservation, Reservation):
            self.ledger.settle(reservation.charges, reservation.actual(rec))
