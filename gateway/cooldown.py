"""Cooldown (circuit breaker) per target: repeated failures within a window skip the target for a while, then
one probe request tries it again. State lives in Redis when REDIS_URL is set (shared by workers and hosts),
else in this process."""
import logging
import threading
import time
from collections import deque

log = logging.getLogger("switchyard.cooldown")


class LocalBreaker:
    """Per-process state: failure times per target, the end of its cooldown, and whether a probe is out."""

    def __init__(self, threshold: int = 3, window_s: float = 60.0, cooldown_s: float = 30.0):
        self.threshold, self.window_s, self.cooldown_s = threshold, window_s, cooldown_s
        self._failures: dict[str, deque] = {}
        self._open_until: dict[str, float] = {}
        self._probe_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, label: str) -> float | None:
        """None when the target may be tried now (closed, or this caller holds the one probe), else the time
        (epoch seconds) at which its cooldown ends."""
        now = time.time()
        with self._lock:
            until = self._open_until.get(label)
            if until is None:
                return None
            if now < until:
                return until
            if self._probe_until.get(label, 0) > now:     # a probe is already out: keep skipping
                return self._probe_until[label]
            self._probe_until[label] = now + self.cooldown_s
            return None

    def cooling(self, now: float | None = None) -> int:
        """How many targets are cooling down now (their cooldown has not ended)."""
        return len(self.cooling_targets(now))

    def cooling_targets(self, now: float | None = None) -> dict[str, float]:
        """label -> when its cooldown ends (epoch seconds), for the targets cooling down now. Read only: unlike
        check(), it never takes the probe."""
        now = time.time() if now is None else now
        with self._lock:
            return {label: until for label, until in self._open_until.items() if until > now}

    def failure(self, label: str) -> None:
        now = time.time()
        with self._lock:
            if label in self._open_until and now >= self._open_until[label]:
                self._open(label, now)                  # the probe failed: cool down again
                return
            times = self._failures.setdefault(label, deque())
            times.append(now)
            while times and times[0] < now - self.window_s:
                times.popleft()
            if len(times) >= self.threshold:
                self._open(label, now)

    def _open(self, label: str, now: float) -> None:
        self._open_until[label] = now + self.cooldown_s
        self._probe_until.pop(label, None)
        self._failures.pop(label, None)
        log.warning("target %s cools down for %.0f s after repeated failures", label, self.cooldown_s)

    def success(self, label: str) -> None:
        with self._lock:
            if label in self._open_until or label in self._failures:
                self._open_until.pop(label, None)
                self._probe_until.pop(label, None)
                self._failures.pop(label, None)


_FAIL_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisBreaker(LocalBreaker):
    """The same rules with the state in Redis, so every worker and host sees one cooldown per target.
    Any Redis failure falls back to the per-process state: Redis trouble never fails a request."""

    def __init__(self, client, threshold: int = 3, window_s: float = 60.0, cooldown_s: float = 30.0,
                 prefix: str = "switchyard:cooldown:"):
        super().__init__(threshold, window_s, cooldown_s)
        self.redis = client
        self.prefix = prefix
        self._incr = client.register_script(_FAIL_SCRIPT)
        self._seen: dict[str, tuple[float | None, float]] = {}   # label -> (open-until marker, read at)
        self._troubled: set[str] = set()                         # labels with failures seen by this process
        self.cache_s = 1.0

    def _open_marker(self, label: str) -> float | None:
        """The shared cooldown marker, read from Redis at most once a second per target (hot path)."""
        now = time.monotonic()
        hit = self._seen.get(label)
        if hit is not None and now - hit[1] < self.cache_s:
            return hit[0]
        raw = self.redis.get(self._k("open", label))
        value = float(raw) if raw is not None else None
        self._seen[label] = (value, now)
        if value is not None:
            self._troubled.add(label)
        return value

    def _k(self, kind: str, label: str) -> str:
        return f"{self.prefix}{kind}:{label}"

    def cooling_targets(self, now: float | None = None) -> dict[str, float]:
        """Targets cooling down on any worker or host (the open markers in Redis); Redis down: this process's."""
        now = time.time() if now is None else now
        try:
            opened = self._k("open", "")
            keys = list(self.redis.scan_iter(match=_glob_escape(opened) + "*", count=500))
            values = self.redis.mget(keys) if keys else []
            out = {}
            for k, v in zip(keys, values):
                if v is not None and float(v) > now:
                    out[(k.decode() if isinstance(k, bytes) else k)[len(opened):]] = float(v)
            return out
        except Exception:  # noqa: BLE001 - Redis down: the breaker itself falls back to its local state
            return super().cooling_targets(now)

    def check(self, label: str) -> float | None:
        try:
            until = self._open_marker(label)
            if until is None:
                return None
            now = time.time()
            if now < until:
                return until
            if self.redis.set(self._k("probe", label), "1", nx=True, px=int(self.cooldown_s * 1000)):
                return None
            return now + self.cooldown_s
        except Exception:  # noqa: BLE001 - Redis down: decide locally
            log.warning("redis unavailable for cooldown state; using this process's state", exc_info=True)
            return super().check(label)

    def failure(self, label: str) -> None:
        self._troubled.add(label)
        self._seen.pop(label, None)
        try:
            now = time.time()
            until = self.redis.get(self._k("open", label))
            if until is not None and now >= float(until):
                self._open_redis(label, now)
                return
            if self._incr(keys=[self._k("fail", label)], args=[int(self.window_s * 1000)]) >= self.threshold:
                self._open_redis(label, now)
        except Exception:  # noqa: BLE001
            log.warning("redis unavailable for cooldown state; using this process's state", exc_info=True)
            super().failure(label)

    def _open_redis(self, label: str, now: float) -> None:
        pipe = self.redis.pipeline()
        # the open marker outlives the cooldown so the probe rule can see it ended
        pipe.set(self._k("open", label), repr(now + self.cooldown_s), px=int((self.cooldown_s + self.window_s) * 1000))
        pipe.delete(self._k("probe", label), self._k("fail", label))
        pipe.execute()
        log.warning("target %s cools down for %.0f s after repeated failures", label, self.cooldown_s)

    def success(self, label: str) -> None:
        if label not in self._troubled:          # the common case costs no Redis call
            return
        self._troubled.discard(label)
        self._seen.pop(label, None)
        try:
            self.redis.delete(self._k("open", label), self._k("probe", label), self._k("fail", label))
        except Exception:  # noqa: BLE001
            super().success(label)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def make_breaker(redis, threshold: int, window_s: float, cooldown_s: float,
                 prefix: str = "switchyard:cooldown:") -> LocalBreaker:
    """In Redis with the services' client (shared by workers and hosts), else per process."""
    if redis is None:
        return LocalBreaker(threshold, window_s, cooldown_s)
    return RedisBreaker(redis, threshold, window_s, cooldown_s, prefix)
