"""Per-key request rate limits (the `limits` engine behind flask-limiter; Redis-backed when REDIS_URL is set)."""
import logging
import time

from limits import RateLimitItemPerMinute, parse, storage, strategies

from gateway import exceptions as exc
from gateway.auth import KeyRecord

log = logging.getLogger("switchyard.limits")


class RateLimits:
    """A key's `rpm_limit`, else the default limit (SWITCHYARD_RATELIMIT_DEFAULT), counted in fixed windows.
    A broken limit store lets requests through (logged): the limiter must never take the gateway down."""

    def __init__(self, redis_url: str | None, default: str | None, prefix: str = "switchyard:"):
        uri = redis_url if redis_url else "memory://"
        options = {"key_prefix": f"{prefix}limits"} if redis_url else {}
        self._limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(uri, **options))
        self._default = parse(default) if default else None
        self._per_minute: dict[int, RateLimitItemPerMinute] = {}

    def _item(self, key: KeyRecord):
        if key.rpm_limit:
            item = self._per_minute.get(key.rpm_limit)
            if item is None:
                item = self._per_minute[key.rpm_limit] = RateLimitItemPerMinute(key.rpm_limit)
            return item
        return self._default

    def check(self, key: KeyRecord) -> None:
        item = self._item(key)
        if item is None:
            return
        try:
            allowed = self._limiter.hit(item, "key", str(key.id))
            if allowed:
                return
            reset = self._limiter.get_window_stats(item, "key", str(key.id)).reset_time
        except Exception:  # noqa: BLE001 - fail open, loudly
            log.warning("rate limit store unavailable; letting the request through", exc_info=True)
            return
        raise exc.RateLimited(f"This key is limited to {item.amount} requests per "
                              f"{item.get_expiry()} s; try again shortly.", retry_after=max(1.0, reset - time.time()))
