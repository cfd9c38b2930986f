"""Rates as values, and flask-limiter where a limit is per client address rather than per key.

`Rate(amount, per)`: a request rate (per second, minute, hour or day), counted by the ledger with the key's other
limits in one reservation (ledger.py): `default_rate` reads SWITCHYARD_RATELIMIT_DEFAULT ("600/minute"), the
rate of a key that has none of its own. flask-limiter (its fixed-window strategy and storage: Redis when REDIS_URL
is set, else this process) counts the admin panel's failed sign-ins per client address (`sign_in_blocked`,
`sign_in_failed`)."""
from dataclasses import dataclass

from flask_limiter import Limiter
from limits import parse

_PER = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
SIGN_IN_RATE = "5 per 5 minutes"   # failed admin sign-ins per username and per client address, then a cool-off


@dataclass(frozen=True)
class Rate:
    amount: int
    per: str                    # second | minute | hour | day


def make_limiter() -> Limiter:
    """One limiter per app (bound in create_app), so two apps in a process never share or rebind its storage.
    Its limits are hit explicitly, so there are no default limits."""
    return Limiter(key_func=lambda: "unauthenticated", default_limits=[], strategy="fixed-window",
                   headers_enabled=False, swallow_errors=True)


def storage_config(redis_url: str | None, prefix: str) -> dict:
    """The flask-limiter settings for create_app: shared counters in Redis, else per process."""
    return {"RATELIMIT_STORAGE_URI": redis_url or "memory://", "RATELIMIT_KEY_PREFIX": f"{prefix}limits",
            "RATELIMIT_SWALLOW_ERRORS": True}


def default_rate(value: str | None) -> Rate | None:
    """SWITCHYARD_RATELIMIT_DEFAULT as a Rate; anything else stops the server at startup naming the variable."""
    if not value:
        return None
    try:
        item = parse(value)
    except ValueError:
        item = None
    if item is None or item.multiples != 1 or item.GRANULARITY.seconds not in _PER:
        raise ValueError(f"SWITCHYARD_RATELIMIT_DEFAULT is not a rate limit: {value!r}; write it as '600/minute' "
                         f"or '10 per second' (per second, minute, hour or day).")
    return Rate(item.amount, _PER[item.GRANULARITY.seconds])


def _sign_in_subjects(address: str | None, username: str | None) -> list[tuple[str, str]]:
    subjects = [("address", address or "-")]
    if username:
        subjects.append(("user", username.strip().lower()[:120]))
    return subjects


def sign_in_blocked(limiter: Limiter, prefix: str, address: str | None, username: str | None = None) -> bool:
    """Whether the address, or the username tried, used up its failed sign-ins (SIGN_IN_RATE); a store failure
    never locks admins out."""
    try:
        return any(not limiter.limiter.test(parse(SIGN_IN_RATE), prefix, "admin-sign-in", kind, who)
                   for kind, who in _sign_in_subjects(address, username))
    except Exception:  # noqa: BLE001
        return False


def sign_in_failed(limiter: Limiter, prefix: str, address: str | None, username: str | None = None) -> None:
    for kind, who in _sign_in_subjects(address, username):
        try:
            limiter.limiter.hit(parse(SIGN_IN_RATE), prefix, "admin-sign-in", kind, who)
        except Exception:  # noqa: BLE001
            pass
