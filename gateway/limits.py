"""Per-key request rate limits through flask-limiter (Redis-backed when REDIS_URL is set), applied after auth."""
import time

from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from gateway import exceptions as exc
from gateway.auth import KeyRecord


def make_limiter() -> Limiter:
    """One limiter per app (bound in create_app), so two apps in a process never share or rebind its storage.
    Limits are applied explicitly after authentication (check_rate), so there are no default limits and the key
    function is never the client's address."""
    return Limiter(key_func=lambda: "unauthenticated", default_limits=[], strategy="fixed-window",
                   headers_enabled=False, swallow_errors=True)


def storage_config(redis_url: str | None, prefix: str) -> dict:
    """The flask-limiter settings for create_app: shared counters in Redis, else per process."""
    return {"RATELIMIT_STORAGE_URI": redis_url or "memory://", "RATELIMIT_KEY_PREFIX": f"{prefix}limits",
            "RATELIMIT_SWALLOW_ERRORS": True}


def check_rate(limiter: Limiter, key: KeyRecord, default: str | None) -> None:
    """A key's `rpm_limit` (else the default limit, e.g. "600/minute"), shared by every endpoint.
    A broken limit store lets requests through (swallow_errors): the limiter never takes the gateway down."""
    limit = f"{key.rpm_limit}/minute" if key.rpm_limit else default
    if not limit:
        return
    try:
        with limiter.shared_limit(limit, scope="key-rate", key_func=lambda: f"key:{key.id}"):
            pass
    except RateLimitExceeded as e:
        current = limiter.current_limit
        retry_after = current.reset_at - time.time() if current is not None else 60.0
        raise exc.RateLimited(f"This key is limited to {e.limit.limit}; try again shortly.",
                              retry_after=max(1.0, retry_after)) from None
