"""Bearer parsing, key hashing and generation, and the cached key lookup (the DB only on a cache miss)."""
import fnmatch
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import func, or_, select

from gateway import exceptions as exc
from gateway.background import native_sleep, start_native_thread
from models import ApiKey, Team

KEY_PREFIX = "sk-sy-"
DISPLAY_LEN = 12


@dataclass(frozen=True)
class TeamRecord:
    id: int
    name: str
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    budget_usd: Decimal | None = None
    budget_period: str = "month"
    request_quota: int | None = None


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    prefix: str
    rpm_limit: int | None
    allowed_models: tuple[str, ...]
    budget_usd: Decimal | None = None
    budget_period: str = "total"
    tpm_limit: int | None = None
    request_quota: int | None = None
    team: TeamRecord | None = None
    expires_at: datetime | None = None       # UTC, naive
    valid_until: datetime | None = None      # a rotated-out secret: its grace period's end
    admin_scope: bool = False                # may read other keys' and teams' usage

    def check_model(self, model: str) -> None:
        if self.allowed_models and not any(fnmatch.fnmatchcase(model, g) for g in self.allowed_models):
            raise exc.ModelNotAllowed(f"This key may not use the model '{model}'.", param="model")

    def check_time(self, now: datetime) -> None:
        if self.expires_at is not None and now >= self.expires_at:
            raise exc.AuthInvalid(f"This key expired at {self.expires_at:%Y-%m-%d %H:%M} UTC.")
        if self.valid_until is not None and now >= self.valid_until:
            raise exc.AuthInvalid("This key was rotated and its grace period is over; use the new secret.")


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """-> (secret, sha256 hex, display prefix). The secret is shown once and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret), secret[:DISPLAY_LEN]


def bearer_of(header: str | None) -> str:
    if not header:
        raise exc.AuthMissing()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise exc.AuthMissing("The Authorization header must be 'Bearer <key>'.")
    return token


class KeyCache:
    """hash -> KeyRecord for ttl seconds; unknown hashes are remembered briefly so they cannot hammer the DB.

    A change to keys (revoke, edit) clears this worker's cache at once; with Redis it also bumps a shared
    version that every worker reads at most once a second, so a revoked key stops working everywhere within
    about a second (without Redis: within the TTL)."""

    MAX_ENTRIES = 50_000
    VERSION_CHECK_S = 0.5

    def __init__(self, sessionmaker, ttl_s: float = 30.0, negative_ttl_s: float = 2.0, redis=None,
                 prefix: str = "switchyard:"):
        self._sessionmaker = sessionmaker
        self._ttl = ttl_s
        self._neg_ttl = negative_ttl_s
        self._cache: dict[str, tuple[KeyRecord | None, float]] = {}
        self._redis = redis                 # the services' client (gateway/redis_client.py), or None
        self._version_key = f"{prefix}keys:version"
        self._version: bytes | None = None
        self._version_checked = 0.0
        self._watching = False
        self._mark: tuple | None = None

    def _check_version(self, now: float) -> None:
        if self._redis is None or now - self._version_checked < self.VERSION_CHECK_S:
            return
        self._version_checked = now
        try:
            version = self._redis.get(self._version_key)
        except Exception:  # noqa: BLE001 - Redis down: the TTL still bounds staleness
            return
        if version != self._version:
            self._version = version
            self._expire_all()

    def lookup(self, secret: str) -> KeyRecord:
        digest = hash_key(secret)
        now = time.monotonic()
        self._check_version(now)
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            record = hit[0]
        else:
            try:
                record = self._load(digest)
            except Exception as e:  # noqa: BLE001 - the database is unreachable
                if hit is not None and hit[0] is not None:
                    record = hit[0]                   # served as last known until the database answers again
                    hit[0].check_time(datetime.now(timezone.utc).replace(tzinfo=None))
                    return record
                raise exc.ServiceUnavailable("The gateway cannot check this key: its database is not reachable.",
                                             retry_after=1) from e
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()               # bounded: a flood of made-up keys cannot grow it forever
            self._cache[digest] = (record, now + (self._ttl if record else self._neg_ttl))
        if record is None:
            raise exc.AuthInvalid()
        record.check_time(datetime.now(timezone.utc).replace(tzinfo=None))
        return record

    def _load(self, digest: str) -> KeyRecord | None:
        with self._sessionmaker() as s:
            row = s.scalar(select(ApiKey).where(or_(ApiKey.key_hash == digest,   # the team comes joined
                                                    ApiKey.previous_key_hash == digest)))
            if row is None or not row.enabled or row.revoked_at is not None:
                return None
            # the index found it by its hash; the secret's own hash is then compared in constant time
            current = hmac.compare_digest(row.key_hash.encode(), digest.encode())
            if not current and not hmac.compare_digest((row.previous_key_hash or "").encode(), digest.encode()):
                return None
            return key_record(row, rotated_out=not current)

    # ---- noticing changes made by other workers and hosts without Redis: the keys' and teams' last change

    def start_watch(self, every_s: float = 0.5) -> None:
        """Watch the keys and teams tables in a native thread: a change made anywhere (another worker, another
        host, the CLI) clears this worker's cache within `every_s` plus one query."""
        if self._watching:
            return
        self._watching = True

        def watch():
            while self._watching:
                try:
                    mark = self._change_mark()
                    if self._mark is not None and mark != self._mark:
                        self._expire_all()
                    self._mark = mark
                except Exception:  # noqa: BLE001 - the TTL still bounds staleness
                    pass
                native_sleep(every_s)
        start_native_thread(watch, "key-watch")

    def stop_watch(self) -> None:
        self._watching = False

    def _change_mark(self) -> tuple:
        """The last change to any key or team: two lookups on the updated_at indexes, cheap at any table size
        (every change through the ORM sets updated_at, revocation and a new key included)."""
        with self._sessionmaker() as s:
            return (s.scalar(select(func.max(ApiKey.updated_at))), s.scalar(select(func.max(Team.updated_at))))

    def _expire_all(self) -> None:
        """Every entry is looked up again on its next use; a known key stays usable if the database is down then."""
        self._cache = {digest: (record, 0.0) for digest, (record, _) in self._cache.items() if record is not None}

    def invalidate(self) -> None:
        """Keys changed: forget them here, and (with Redis) tell every other worker."""
        self._expire_all()
        if self._redis is not None:
            try:
                self._redis.incr(self._version_key)
            except Exception:  # noqa: BLE001 - the TTL still bounds staleness
                pass


def team_record(team: Team | None) -> TeamRecord | None:
    if team is None:
        return None
    return TeamRecord(team.id, team.name, team.rpm_limit, team.tpm_limit, _dec(team.budget_usd),
                      team.budget_period or "month", team.request_quota)


def key_record(row: ApiKey, rotated_out: bool = False) -> KeyRecord:
    """The cached view of a key row (and its team); `rotated_out`: looked up by its previous secret."""
    globs = tuple(g.strip() for g in (row.allowed_models or "").split(",") if g.strip())
    record = KeyRecord(row.id, row.name, row.prefix, row.rpm_limit, globs, _dec(row.budget_usd),
                       row.budget_period or "total", row.tpm_limit, row.request_quota, team_record(row.team),
                       row.expires_at, admin_scope=bool(row.admin_scope))
    if rotated_out:
        record = replace(record, valid_until=row.previous_valid_until or datetime(1970, 1, 1))
    return record


def _dec(v) -> Decimal | None:
    return Decimal(str(v)) if v is not None else None
