"""Requests per minute per key and per team, through flask-limiter's storage and fixed-window strategy (in Redis
when REDIS_URL is set, so one count across every worker and host; in this process otherwise, where a host runs one
worker). `RequestRates.hit` counts a request against its key's rate (else the default, SWITCHYARD_RATELIMIT_DEFAULT)
and its team's, refusing it (429 rate_limited, naming which limit, with Retry-After) when one is full."""
import logging
import time
from dataclasses import dataclass

from flask_limiter import Limiter
from limits import RateLimitItem, RateLimitItemPerMinute, parse

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from gateway.periods import duration

log = logging.getLogger("switchyard.limits")


def make_limiter() -> Limiter:
    """One limiter per app (bound in create_app), so two apps in a process never share or rebind its storage.
    Limits are counted explicitly (RequestRates), so there are no default limits and the key function is never
    the client's address."""
    return Limiter(key_func=lambda: "unauthenticated", default_limits=[], strategy="fixed-window",
                   headers_enabled=False, swallow_errors=True)


def storage_config(redis_url: str | None, prefix: str) -> dict:
    """The flask-limiter settings for create_app: shared counters in Redis, else per process."""
    return {"RATELIMIT_STORAGE_URI": redis_url or "memory://", "RATELIMIT_KEY_PREFIX": f"{prefix}limits",
            "RATELIMIT_SWALLOW_ERRORS": True}


def default_rate(value: str | None) -> RateLimitItem | None:
    """SWITCHYARD_RATELIMIT_DEFAULT as a limit (checked at startup by config.validate_observability)."""
    return parse(value) if value else None


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at: float


class RequestRates:
    def __init__(self, limiter: Limiter, prefix: str, default: RateLimitItem | None):
        self._limiter, self._prefix, self._default = limiter, prefix, default

    def _subjects(self, key: KeyRecord) -> list[tuple[RateLimitItem, str, str]]:
        out = []
        item = RateLimitItemPerMinute(key.rpm_limit) if key.rpm_limit else self._default
        if item is not None:
            out.append((item, f"key:{key.id}", "this key's requests per minute" if key.rpm_limit
                        else "the default request rate per key"))
        if key.team is not None and key.team.rpm_limit:
            out.append((RateLimitItemPerMinute(key.team.rpm_limit), f"team:{key.team.id}",
                        f"team {key.team.name}'s requests per minute"))
        return out

    def hit(self, key: KeyRecord) -> RateState | None:
        """Count one request against every rate that applies; the tightest one's state after it (None when none
        applies or the store failed: the limiter never takes the gateway down)."""
        subjects = self._subjects(key)
        if not subjects:
            return None
        strategy = self._limiter.limiter
        tightest: RateState | None = None
        try:
            for item, subject, what in subjects:
                if not strategy.hit(item, self._prefix, "rpm", subject):
                    reset_at, _ = strategy.get_window_stats(item, self._prefix, "rpm", subject)
                    wait = max(1.0, reset_at - time.time())
                    refused = exc.RateLimited(f"{what[0].upper()}{what[1:]} is {item.amount} per "
                                              f"{item.GRANULARITY.name}; it resets in {duration(wait)}.",
                                              retry_after=wait)
                    refused.rate_state = RateState(item.amount, 0, reset_at)
                    raise refused
                reset_at, remaining = strategy.get_window_stats(item, self._prefix, "rpm", subject)
                if tightest is None or remaining < tightest.remaining:
                    tightest = RateState(item.amount, remaining, reset_at)
        except exc.GatewayError:
            raise
        except Exception:  # noqa: BLE001 - a broken limit store lets requests through, loudly
            log.warning("request rate store unavailable; the request is not counted", exc_info=True)
            return None
        return tightest
