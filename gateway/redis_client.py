"""The one Redis client of an app's services (key-cache versions, cooldowns, the readiness probe): built once, with
short timeouts, so a slow or absent Redis degrades the shared state instead of stalling requests."""
REDIS_TIMEOUT_S = 0.5


def make_redis(url: str | None):
    """A client for REDIS_URL, or None without one (everything then keeps its state per process)."""
    if not url:
        return None
    import redis
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
