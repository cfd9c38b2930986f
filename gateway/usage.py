"""The usage API's queries: a key's (or, with the admin scope, any key's or team's) request rows page by page, and
summaries per day, model or provider from the daily rollups (models/usage_rollup.py), never from the raw log.

Dates are UTC days, `from` and `to` inclusive; a range is at most 366 days. Money is a decimal string (exact);
latency percentiles come from the rollups' histogram (the upper bound of the bucket the percentile falls in)."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from models import ApiKey, RequestLog, UsageRollup
from models.usage_rollup import LATENCY_BUCKETS_MS

MAX_DAYS = 366
MAX_PER_PAGE = 500
GROUPS = {"day": UsageRollup.day, "model": UsageRollup.model, "provider": UsageRollup.provider}
_BUCKETS = [getattr(UsageRollup, f"lat_b{i}") for i in range(len(LATENCY_BUCKETS_MS) + 1)]


@dataclass(frozen=True)
class Scope:
    key_id: int | None
    team_id: int | None


def _day(value: str | None, name: str, default: date) -> date:
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad(name, value)
    except ValueError:
        return _bad(name, value)


def _bad(name: str, value) -> date:
    raise exc.InvalidRequest(f"{name} is a date, YYYY-MM-DD; got {value!r}.", param=name)


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise exc.InvalidRequest(f"{name} is a whole number from {lo} to {hi}; got {value!r}.", param=name)
    return n


def date_range(args) -> tuple[date, date]:
    today = datetime.now(timezone.utc).date()
    to = _day(args.get("to"), "to", today)
    start = _day(args.get("from"), "from", to - timedelta(days=29))
    if start > to:
        raise exc.InvalidRequest(f"from ({start}) is after to ({to}).", param="from")
    if (to - start).days + 1 > MAX_DAYS:
        raise exc.InvalidRequest(f"A range is at most {MAX_DAYS} days; {start} to {to} is {(to - start).days + 1}.",
                                 param="to")
    return start, to


def scope_of(key: KeyRecord, args) -> Scope:
    """Whose usage: the calling key's; with the admin scope, `key=` (an id) or `team=` (an id) instead."""
    asked_key, asked_team = args.get("key"), args.get("team")
    if asked_key in (None, "") and asked_team in (None, ""):
        return Scope(key.id, None)
    if not key.admin_scope:
        raise exc.PermissionDenied("Only a key with the admin scope may read another key's or team's usage.",
                                   param="key" if asked_key not in (None, "") else "team")
    if asked_key not in (None, "") and asked_team not in (None, ""):
        raise exc.InvalidRequest("Give key or team, not both.", param="team")
    if asked_key not in (None, ""):
        return Scope(_int(asked_key, "key", 0, 1, 2**31 - 1), None)
    return Scope(None, _int(asked_team, "team", 0, 1, 2**31 - 1))


def _money(value) -> str:
    return format(Decimal(str(value or 0)).normalize(), "f")


def rows(session, scope: Scope, start: date, to: date, args) -> dict:
    page = _int(args.get("page"), "page", 1, 1, 10**6)
    per_page = _int(args.get("per_page"), "per_page", 25, 1, MAX_PER_PAGE)
    lo, hi = datetime.combine(start, time.min), datetime.combine(to + timedelta(days=1), time.min)
    where = [RequestLog.created_at >= lo, RequestLog.created_at < hi]
    if scope.key_id is not None:
        where.append(RequestLog.key_id == scope.key_id)
    else:
        where.append(RequestLog.key_id.in_(select(ApiKey.id).where(ApiKey.team_id == scope.team_id)))
    total = session.scalar(select(func.count()).select_from(RequestLog).where(*where))
    found = session.scalars(select(RequestLog).where(*where).order_by(RequestLog.created_at.desc(),
                                                                       RequestLog.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    data = []
    for r in found:
        prompt, completion = r.prompt_tokens, r.completion_tokens
        data.append({
            "timestamp": r.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z"),
            "request_id": r.client_request_id or r.request_id, "endpoint": r.endpoint, "model": r.requested_model,
            "provider": r.provider, "input_tokens": prompt, "output_tokens": completion,
            "total_tokens": None if prompt is None else prompt + (completion or 0),
            "cached_tokens": r.cached_tokens, "reasoning_tokens": r.reasoning_tokens,
            "cost_usd": None if r.cost_usd is None else _money(r.cost_usd),
            "latency_ms": round(float(r.gateway_latency_ms or 0) + float(r.upstream_latency_ms or 0), 3),
            "status_code": r.status, "error_code": r.error_code})
    return {"object": "list", "data": data, "meta": {"page": page, "per_page": per_page, "total": total}}


def percentile_bucket(counts: list[int], q: float) -> int | None:
    """The index of the histogram bucket the q-th percentile falls in (None when the histogram is empty)."""
    n = sum(counts)
    if not n:
        return None
    rank, seen = q * n, 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= rank:
            return i
    return len(counts) - 1


def _percentile(counts: list[int], q: float) -> float | None:
    i = percentile_bucket(counts, q)
    return float(LATENCY_BUCKETS_MS[i]) if i is not None and i < len(LATENCY_BUCKETS_MS) else None


def _entry(group, row) -> dict:
    counts = [int(getattr(row, f"b{i}") or 0) for i in range(len(_BUCKETS))]
    return {"group": group, "requests": int(row.requests or 0), "errors": int(row.errors or 0),
            "input_tokens": int(row.prompt or 0), "output_tokens": int(row.completion or 0),
            "cached_tokens": int(row.cached or 0), "reasoning_tokens": int(row.reasoning or 0),
            "cost_usd": _money(row.cost), "unpriced_requests": int(row.unpriced or 0),
            "latency_ms_mean": round(float(row.latency or 0) / row.requests, 3) if row.requests else None,
            "latency_ms_p50_at_most": _percentile(counts, 0.5), "latency_ms_p95_at_most": _percentile(counts, 0.95)}


def summary(session, scope: Scope, start: date, to: date, group_by: str | None) -> dict:
    group_by = group_by or "day"
    if group_by not in GROUPS:
        raise exc.InvalidRequest(f"group_by is one of {', '.join(GROUPS)}; got {group_by!r}.", param="group_by")
    sums = [func.sum(UsageRollup.requests).label("requests"), func.sum(UsageRollup.errors).label("errors"),
            func.sum(UsageRollup.prompt_tokens).label("prompt"),
            func.sum(UsageRollup.completion_tokens).label("completion"),
            func.sum(UsageRollup.cached_tokens).label("cached"), func.sum(UsageRollup.reasoning_tokens).label("reasoning"),
            func.sum(UsageRollup.cost_usd).label("cost"), func.sum(UsageRollup.unpriced).label("unpriced"),
            func.sum(UsageRollup.latency_ms_sum).label("latency"),
            *[func.sum(b).label(f"b{i}") for i, b in enumerate(_BUCKETS)]]
    where = [UsageRollup.day >= start, UsageRollup.day <= to]
    where.append(UsageRollup.key_id == scope.key_id if scope.key_id is not None
                 else UsageRollup.team_id == scope.team_id)
    column = GROUPS[group_by]
    grouped = session.execute(select(column.label("g"), *sums).where(*where).group_by(column).order_by(column)).all()
    total = session.execute(select(*sums).where(*where)).one()
    data = [_entry(str(r.g) if group_by == "day" else r.g or None, r) for r in grouped]
    return {"object": "usage.summary", "from": start.isoformat(), "to": to.isoformat(), "group_by": group_by,
            "data": data, "total": _entry(None, total)}
