"""Bearer parsing, key hashing and generation, and the cached key lookup (the DB only on a cache miss)."""
import fnmatch
import hashlib
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from gateway import exceptions as exc
from models import ApiKey

KEY_PREFIX = "sk-sy-"
DISPLAY_LEN = 12


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    prefix: str
    rpm_limit: int | None
    allowed_models: tuple[str, ...]
    budget_usd: Decimal | None = None

    def check_model(self, model: str) -> None:
        if self.allowed_models and not any(fnmatch.fnmatchcase(model, g) for g in self.allowed_models):
            raise exc.ModelNotAllowed(f"This key may not use the model '{model}'.", param="model")


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
    VERSION_CHECK_S = 1.0

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
            self._cache.clear()

    def lookup(self, secret: str) -> KeyRecord:
        digest = hash_key(secret)
        now = time.monotonic()
        self._check_version(now)
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            record = hit[0]
        else:
            record = self._load(digest)
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()               # bounded: a flood of made-up keys cannot grow it forever
            self._cache[digest] = (record, now + (self._ttl if record else self._neg_ttl))
        if record is None:
            raise exc.AuthInvalid()
        return record

    def _load(self, digest: str) -> KeyRecord | None:
        with self._sessionmaker() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            if row is None or not row.enabled or row.revoked_at is not None:
                return None
            globs = tuple(g.strip() for g in (row.allowed_models or "").split(",") if g.strip())
            budget = Decimal(str(row.budget_usd)) if row.budget_usd is not None else None
            return KeyRecord(row.id, row.name, row.prefix, row.rpm_limit, globs, budget)

    def invalidate(self) -> None:
        """Keys changed: forget them here, and (with Redis) tell every other worker."""
        self._cache.clear()
        if self._redis is not None:
            try:
                self._redis.incr(self._version_key)
            except Exception:  # noqa: BLE001 - the TTL still bounds staleness
                pass
