"""Gateway keys and teams as the CLI, the admin panel and the tests change them: create (the secret is returned
once, only its hash is stored), update, rotate (the old secret keeps working for a grace period), revoke; teams
create and update. Every change is told to the key cache of every worker (`KeyCache.invalidate`, and the
watcher of the tables' last change)."""
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, or_, select

from gateway.auth import generate_key
from gateway.periods import PERIODS, window
from models import ApiKey, SpendCounter, Team

UNSET = object()


class KeyChangeError(ValueError):
    """A key or team change that cannot be made; the message says why (the CLI shows it as it is)."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_key_fields() -> tuple[str, dict]:
    """(the secret, the columns that store it): its SHA-256 hash and display prefix, enabled."""
    secret, digest, prefix = generate_key()
    return secret, {"key_hash": digest, "prefix": prefix, "enabled": True}


@dataclass
class Limits:
    """What a key or a team may use; UNSET leaves a field as it is (update), None clears it."""
    rpm_limit: object = UNSET
    tpm_limit: object = UNSET
    budget_usd: object = UNSET
    budget_period: object = UNSET
    request_quota: object = UNSET
    extra: dict = field(default_factory=dict)     # key-only: team_id, allowed_models, expires_at, metadata_json

    def apply(self, row) -> None:
        for name in ("rpm_limit", "tpm_limit", "budget_usd", "budget_period", "request_quota"):
            value = getattr(self, name)
            if value is not UNSET:
                setattr(row, name, value)
        for name, value in self.extra.items():
            setattr(row, name, value)
        check(row)


def check(row) -> None:
    for name in ("rpm_limit", "tpm_limit", "request_quota"):
        value = getattr(row, name)
        if value is not None and value < 1:
            raise KeyChangeError(f"{name.replace('_', ' ')} must be 1 or more (leave it out for no limit); "
                                 f"got {value}.")
    if row.budget_usd is not None and Decimal(str(row.budget_usd)) < 0:
        raise KeyChangeError(f"The budget must be 0 or more USD; got {row.budget_usd}.")
    if row.budget_period not in PERIODS:
        raise KeyChangeError(f"The budget period is one of {', '.join(PERIODS)}; got {row.budget_period!r}.")


def create_key(sessionmaker, name: str, rpm_limit: int | None = None, limits: Limits | None = None
               ) -> tuple[ApiKey, str]:
    secret, fields = new_key_fields()
    with sessionmaker() as s, s.begin():
        row = ApiKey(name=name, rpm_limit=rpm_limit, budget_period="month", **fields)
        if limits is not None:
            limits.apply(row)
        s.add(row)
    return row, secret


def find_key(session, id_or_prefix: str) -> ApiKey:
    cond = ApiKey.prefix == id_or_prefix
    if id_or_prefix.isdigit():
        cond = or_(cond, ApiKey.id == int(id_or_prefix))
    rows = session.scalars(select(ApiKey).where(cond)).all()
    if len(rows) != 1:
        raise KeyChangeError(f"{len(rows)} keys match '{id_or_prefix}'; name exactly one (its id or prefix).")
    return rows[0]


def find_team(session, name_or_id: str) -> Team:
    cond = Team.name == name_or_id
    if name_or_id.isdigit():
        cond = or_(cond, Team.id == int(name_or_id))
    row = session.scalar(select(Team).where(cond))
    if row is None:
        raise KeyChangeError(f"No team '{name_or_id}' (flask --app app teams list).")
    return row


def rotate(session, row: ApiKey, grace_s: int) -> str:
    """A new secret for this key; the old one keeps working for `grace_s` seconds. Returns the new secret."""
    if grace_s < 0:
        raise KeyChangeError(f"The grace period is 0 or more seconds; got {grace_s}.")
    if row.revoked_at is not None:
        raise KeyChangeError(f"Key {row.id} is revoked; create a new one instead.")
    secret, fields = new_key_fields()
    row.previous_key_hash, row.previous_valid_until = row.key_hash, _utcnow() + timedelta(seconds=grace_s)
    row.key_hash, row.prefix = fields["key_hash"], fields["prefix"]
    return secret


def revoke(session, ids: list[int]) -> list[ApiKey]:
    """Revoke these keys (those not revoked already) in `session`; the caller commits, then tells the cache."""
    now = _utcnow()
    rows = session.scalars(select(ApiKey).where(ApiKey.id.in_(ids))).all()
    revoked = [r for r in rows if r.revoked_at is None]
    for r in revoked:
        r.revoked_at, r.enabled, r.previous_valid_until = now, False, None
    return revoked


def spent_by_subject(session, periods: dict[str, str], now: float) -> dict[str, Decimal]:
    """subject -> logged spend in its current budget period (`periods`: subject -> period), from the per-day
    counters: one grouped query per period in use, whatever the number of subjects."""
    out: dict[str, Decimal] = {}
    for period in PERIODS:
        subjects = [s for s, p in periods.items() if p == period]
        if not subjects:
            continue
        _, first, _ = window(period, now)
        q = select(SpendCounter.subject, func.sum(SpendCounter.spent_usd)).where(
            SpendCounter.subject.in_(subjects)).group_by(SpendCounter.subject)
        if first is not None:
            q = q.where(SpendCounter.day >= first)
        out.update({s: Decimal(str(v or 0)) for s, v in session.execute(q)})
    return out


def spend(session, subject: str, period: str, now: float) -> tuple[Decimal, int]:
    """(logged spend in the subject's current budget period, requests this calendar month), from the per-day
    counters."""
    spent = spent_by_subject(session, {subject: period}, now).get(subject, Decimal(0))
    _, month_first, _ = window("month", now)
    requests = session.scalar(select(func.coalesce(func.sum(SpendCounter.requests), 0))
                              .where(SpendCounter.subject == subject, SpendCounter.day >= month_first)) or 0
    return spent, int(requests)


def metadata_of(pairs: tuple[str, ...]) -> str | None:
    out = {}
    for pair in pairs:
        k, sep, v = pair.partition("=")
        if not sep or not k:
            raise KeyChangeError(f"Metadata is key=value; got {pair!r}.")
        out[k] = v
    return json.dumps(out, sort_keys=True) if out else None
