"""What the dashboard shows, read from the daily rollups (models/usage_rollup.py) and never from the raw log: a
handful of grouped queries over at most 60 days of rollup rows, whatever the size of request_logs.

`dashboard(session, breaker, today, days, split)` returns plain values for the template: the totals of today, 7
and 30 days against the period before, a per-day series split by model or provider for the charts, the top
models, keys and teams by spend, latency and overhead percentiles from the histograms, the fallback rate, and the
targets cooling down now (from the circuit breaker: Redis when shared, else this process).
"""
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from gateway.usage import percentile_bucket
from models import ApiKey, Team, UsageRollup
from models.usage_rollup import LATENCY_BUCKETS_MS, OVERHEAD_BUCKETS_MS

WINDOWS = (("Today", 1), ("7 days", 7), ("30 days", 30))
CHART_DAYS = (7, 30, 90)
SPLITS = ("model", "provider")
SERIES = 6                  # the top series by spend get a colour each; the rest is "other"
TOP = 8
_LAT = [getattr(UsageRollup, f"lat_b{i}") for i in range(len(LATENCY_BUCKETS_MS) + 1)]
_OVH = [getattr(UsageRollup, f"ovh_b{i}") for i in range(len(OVERHEAD_BUCKETS_MS) + 1)]


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    spend: Decimal = Decimal(0)
    tokens: int = 0
    fallbacks: int = 0

    def add(self, row) -> None:
        self.requests += int(row.requests or 0)
        self.errors += int(row.errors or 0)
        self.spend += Decimal(str(row.spend or 0))
        self.tokens += int(row.tokens or 0)
        self.fallbacks += int(row.fallbacks or 0)


@dataclass
class Window:
    label: str
    now: Totals
    before: Totals

    def change(self, name: str) -> float | None:
        """The relative change against the period before, or None when that period had none."""
        old, new = getattr(self.before, name), getattr(self.now, name)
        if not old:
            return None
        return (float(new) - float(old)) / float(old)


@dataclass
class Dashboard:
    today: date
    days: list[date]
    split: str
    windows: list[Window]
    spend_series: dict[str, dict[date, Decimal]]
    requests: dict[date, int]
    errors: dict[date, int]
    top_models: list[tuple[str, Decimal, int]]
    top_keys: list[tuple[str, Decimal, int]]
    top_teams: list[tuple[str, Decimal, int]]
    latency: dict[str, float | None]
    overhead: dict[str, float | None]
    fallback_rate: float | None
    cooling: list[tuple[str, float]] = field(default_factory=list)


def _bound(counts: list[int], bounds: tuple, q: float) -> float | None:
    """The upper bound of the percentile's bucket; infinity for the last, open-ended one."""
    i = percentile_bucket(counts, q)
    if i is None:
        return None
    return float(bounds[i]) if i < len(bounds) else float("inf")


def _sums():
    return (func.sum(UsageRollup.requests).label("requests"), func.sum(UsageRollup.errors).label("errors"),
            func.sum(UsageRollup.cost_usd).label("spend"),
            func.sum(UsageRollup.prompt_tokens + UsageRollup.completion_tokens).label("tokens"),
            func.sum(UsageRollup.fallbacks).label("fallbacks"))


def _windows(session, today: date) -> list[Window]:
    start = today - timedelta(days=59)
    per_day = {r.day: r for r in session.execute(
        select(UsageRollup.day, *_sums()).where(UsageRollup.day >= start).group_by(UsageRollup.day))}
    out = []
    for label, n in WINDOWS:
        now, before = Totals(), Totals()
        for i in range(n):
            for day, totals in ((today - timedelta(days=i), now), (today - timedelta(days=n + i), before)):
                if day in per_day:
                    totals.add(per_day[day])
        out.append(Window(label, now, before))
    return out


def _series(session, days: list[date], split: str):
    column = UsageRollup.model if split == "model" else UsageRollup.provider
    rows = session.execute(select(UsageRollup.day, column.label("name"), *_sums())
                           .where(UsageRollup.day >= days[0]).group_by(UsageRollup.day, column)).all()
    by_name: dict[str, Decimal] = {}
    for r in rows:
        by_name[r.name or "(none)"] = by_name.get(r.name or "(none)", Decimal(0)) + Decimal(str(r.spend or 0))
    named = [n for n, _ in sorted(by_name.items(), key=lambda kv: (-kv[1], kv[0]))[:SERIES]]
    spend: dict[str, dict[date, Decimal]] = {n: {} for n in named}
    requests: dict[date, int] = {}
    errors: dict[date, int] = {}
    for r in rows:
        name = r.name or "(none)"
        name = name if name in spend else "other"
        per_day = spend.setdefault(name, {})
        per_day[r.day] = per_day.get(r.day, Decimal(0)) + Decimal(str(r.spend or 0))
        requests[r.day] = requests.get(r.day, 0) + int(r.requests or 0)
        errors[r.day] = errors.get(r.day, 0) + int(r.errors or 0)
    spend = {n: v for n, v in spend.items() if any(v.values())}
    return spend, requests, errors


def _top(session, column, since: date, label_of=None) -> list[tuple[str, Decimal, int]]:
    """The TOP groups of `column` by spend since `since`; `label_of(ids)` names keys and teams (0: no key)."""
    spend = func.sum(UsageRollup.cost_usd)
    q = select(column.label("id"), spend.label("spend"), func.sum(UsageRollup.requests).label("requests")) \
        .where(UsageRollup.day >= since)
    if label_of is not None:
        q = q.where(column != 0)
    rows = session.execute(q.group_by(column).order_by(spend.desc(), column).limit(TOP)).all()
    if label_of is None:
        return [(r.id or "(none)", Decimal(str(r.spend or 0)), int(r.requests or 0)) for r in rows]
    names = label_of([r.id for r in rows]) if rows else {}
    return [(names.get(r.id, f"#{r.id}"), Decimal(str(r.spend or 0)), int(r.requests or 0)) for r in rows]


def _key_names(session):
    def names(ids):
        return {r.id: f"{r.name} ({r.prefix}…)" for r in session.execute(
            select(ApiKey.id, ApiKey.name, ApiKey.prefix).where(ApiKey.id.in_(ids)))}
    return names


def _team_names(session):
    def names(ids):
        return {r.id: r.name for r in session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))}
    return names


def _percentiles(session, since: date) -> tuple[dict, dict]:
    row = session.execute(select(*[func.sum(c) for c in _LAT + _OVH]).where(UsageRollup.day >= since)).one()
    lat = [int(v or 0) for v in row[:len(_LAT)]]
    ovh = [int(v or 0) for v in row[len(_LAT):]]
    return ({"p50": _bound(lat, LATENCY_BUCKETS_MS, 0.5), "p95": _bound(lat, LATENCY_BUCKETS_MS, 0.95)},
            {"p50": _bound(ovh, OVERHEAD_BUCKETS_MS, 0.5), "p95": _bound(ovh, OVERHEAD_BUCKETS_MS, 0.95)})


def dashboard(session, breaker, today: date, days: int = 30, split: str = "model") -> Dashboard:
    days = days if days in CHART_DAYS else 30
    split = split if split in SPLITS else "model"
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    windows = _windows(session, today)
    spend, requests, errors = _series(session, span, split)
    latency, overhead = _percentiles(session, span[0])
    month = windows[-1].now
    cooling = sorted(breaker.cooling_targets().items()) if breaker is not None else []
    return Dashboard(
        today=today, days=span, split=split, windows=windows, spend_series=spend, requests=requests,
        errors=errors, top_models=_top(session, UsageRollup.model, span[0]),
        top_keys=_top(session, UsageRollup.key_id, span[0], _key_names(session)),
        top_teams=_top(session, UsageRollup.team_id, span[0], _team_names(session)),
        latency=latency, overhead=overhead,
        fallback_rate=(month.fallbacks / month.requests) if month.requests else None,
        cooling=[(label, max(0.0, until - time.time())) for label, until in cooling])

