"""The one Redis client of an app's services (key-cache versions, cooldowns, the readiness probe): built once, with
short timeouts, so a slow or absent Redis degrades the shared state instead of stalling requests."""
REDIS_TIMEOUT_S = 0.5
POOL_SIZE = 512          # connections per worker; past it a request waits (up to the timeout) for one


def make_redis(url: str | None):
    """A client for REDIS_URL, or None without one (everything then keeps its state per process). Its pool blocks
    when every connection is busy instead of failing (a burst of concurrent requests must still be counted)."""
    if not url:
        return None
    import redis
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=REDIS_TIMEOUT_S,
                                                 socket_timeout=REDIS_TIMEOUT_S,
                                                 socket_connect_timeout=REDIS_TIMEOUT_S)
    return redis.Redis(connection_pool=pool)
