"""The counters behind token limits, budgets and request quotas: reserve before a call, settle after it.

A `Charge` names one counter (its window in the name), the amount to reserve and the limit. `Ledger.reserve`
applies all of a request's charges at once or none (atomically in Redis, with one Lua script, when REDIS_URL is
set: exact across every worker and host; in this process otherwise, which is exact because a host without Redis
runs one worker: deploy/gunicorn.conf.py). Two rules:
  strict  (rates: tokens per minute)  the counter plus the amount must stay within the limit;
  soft    (budgets, quotas)           the counter must be below the limit; the amount is then reserved, so a
                                      budget is overshot by at most one request's reservation, however many run.
`settle` moves each counter by (actual - reserved) when the request is over (streams at their end, client
disconnects included). A spend or quota counter starts, the first time a process meets it, from the per-day
counters the log writer keeps (models/spend_counter.py): nothing on the request path sums the request log.
Money is counted in units of 1e-8 USD (the precision of the log's cost column), rounded up.
"""
import logging
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import func, select

from gateway import exceptions as exc
from models import SpendCounter

log = logging.getLogger("switchyard.ledger")
UNIT = Decimal("0.00000001")


def to_units(usd: Decimal | None) -> int:
    return 0 if not usd else int((usd / UNIT).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int) -> Decimal:
    return (Decimal(units) * UNIT).normalize()


@dataclass(frozen=True)
class Seed:
    """Where a counter's starting value comes from: the subject's per-day counters since `first_day`."""
    subject: str                 # "key:<id>" | "team:<id>"
    first_day: date | None       # None: every day (a total budget)
    column: str                  # "spent_usd" | "requests"


@dataclass(frozen=True)
class Charge:
    counter: str                 # e.g. "tpm:key:7:2026-12-01T12:03", "spend:team:2:2026-12"
    amount: int
    limit: int
    strict: bool
    ttl_s: int | None            # the counter expires this long after its first use (None: never)
    what: str                    # "this key's tokens per minute", for the refusal's message
    quota: bool                  # refused as quota_exceeded (budgets, quotas) rather than rate_limited
    resets_at: float | None
    seed: Seed | None = None


_RESERVE = """
local n = tonumber(ARGV[1])
for j = n + 1, #KEYS do redis.call('INCRBY', KEYS[j], ARGV[4*n + 1 + j - n]) end
for i = 1, n do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  local amount, limit, strict = tonumber(ARGV[4*i-2]), tonumber(ARGV[4*i-1]), ARGV[4*i]
  if (strict == '1' and cur + amount > limit) or (strict == '0' and cur >= limit) then return {i, cur} end
end
local out = {0}
for i = 1, n do
  local v = redis.call('INCRBY', KEYS[i], ARGV[4*i-2])
  local ttl = tonumber(ARGV[4*i+1])
  if ttl > 0 and redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ttl) end
  out[i + 1] = v
end
return out
"""


class MemoryCounters:
    """This process's counters (a host without Redis runs one worker)."""

    SWEEP_S = 60.0

    def __init__(self):
        self._values: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._lock = threading.Lock()
        self._swept = time.time()

    def _sweep(self, now: float) -> None:
        """Forget expired counters (a minute's token count, a past day's spend) once a minute: bounded memory."""
        if now - self._swept < self.SWEEP_S:
            return
        self._swept = now
        for name in [n for n, exp in self._expires.items() if exp <= now]:
            self._values.pop(name, None)
            del self._expires[name]

    def __len__(self) -> int:
        return len(self._values)

    def _live(self, name: str, now: float) -> None:
        exp = self._expires.get(name)
        if exp is not None and exp <= now:
            self._values.pop(name, None)
            self._expires.pop(name, None)

    def has(self, name: str) -> bool:
        with self._lock:
            self._live(name, time.time())
            return name in self._values

    def seed(self, name: str, value: int, ttl_s: int | None) -> None:
        with self._lock:
            if name not in self._values:
                self._values[name] = value
                if ttl_s:
                    self._expires[name] = time.time() + ttl_s

    def reserve(self, charges: list[Charge]) -> tuple[int, int, list[int]]:
        """(0, 0, the values after) or (1-based index of the refusing charge, its value, [])."""
        now = time.time()
        with self._lock:
            self._sweep(now)
            for c in charges:
                self._live(c.counter, now)
            for i, c in enumerate(charges, 1):
                cur = self._values.get(c.counter, 0)
                if (c.strict and cur + c.amount > c.limit) or (not c.strict and cur >= c.limit):
                    return i, cur, []
            out = []
            for c in charges:
                self._values[c.counter] = self._values.get(c.counter, 0) + c.amount
                if c.ttl_s and c.counter not in self._expires:
                    self._expires[c.counter] = now + c.ttl_s
                out.append(self._values[c.counter])
            return 0, 0, out

    def add(self, moves: list[tuple[str, int]]) -> None:
        with self._lock:
            for name, delta in moves:
                if name in self._values:
                    self._values[name] += delta

    def flush(self) -> None:
        pass


class RedisCounters:
    """The same counters in Redis, shared by every worker and host. A reservation is one round trip (the Lua
    script). A settlement costs no round trip of its own: it rides with this worker's next reservation (applied
    before that one is checked, so a client's next request on the same worker sees it) or, when none comes within
    SETTLE_EVERY_S, goes as one pipeline; other workers and hosts see it within that time."""
    SETTLE_EVERY_S = 0.02

    def __init__(self, redis, prefix: str):
        self._redis, self._prefix = redis, f"{prefix}ledger:"
        self._script = redis.register_script(_RESERVE)
        self._moves: dict[str, int] = {}
        self._flushing = False
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        return bool(self._redis.exists(self._prefix + name))

    def seed(self, name: str, value: int, ttl_s: int | None) -> None:
        self._redis.set(self._prefix + name, value, nx=True, ex=ttl_s or None)

    def reserve(self, charges: list[Charge]) -> tuple[int, int, list[int]]:
        with self._lock:
            moves, self._moves = self._moves, {}
        moves = {n: d for n, d in moves.items() if d}
        args: list = [len(charges)]
        for c in charges:
            args += [c.amount, c.limit, "1" if c.strict else "0", c.ttl_s or 0]
        args += list(moves.values())
        try:
            out = self._script(keys=[self._prefix + c.counter for c in charges] +
                               [self._prefix + n for n in moves], args=args)
        except Exception:
            if moves:
                self._put_back(moves)
            raise
        if int(out[0]) != 0:
            return int(out[0]), int(out[1]), []
        return 0, 0, [int(v) for v in out[1:]]

    def add(self, moves: list[tuple[str, int]]) -> None:
        with self._lock:
            for name, delta in moves:
                self._moves[name] = self._moves.get(name, 0) + delta
            if self._flushing:
                return
            self._flushing = True
        threading.Thread(target=self._flush_later, name="ledger-settle", daemon=True).start()

    def _flush_later(self) -> None:
        time.sleep(self.SETTLE_EVERY_S)
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - a lost settlement errs on the side of refusing; said in the log
            log.warning("limit counters unavailable; settlements were lost", exc_info=True)

    def _put_back(self, moves: dict[str, int]) -> None:
        with self._lock:
            for name, delta in moves.items():
                self._moves[name] = self._moves.get(name, 0) + delta

    def flush(self) -> None:
        """Send the settlements gathered so far (also at shutdown)."""
        with self._lock:
            moves, self._moves, self._flushing = self._moves, {}, False
        moves = {n: d for n, d in moves.items() if d}
        if not moves:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, delta in moves.items():
            pipe.incrby(self._prefix + name, delta)
        try:
            pipe.execute()
        except Exception:
            self._put_back(moves)
            raise


class Ledger:
    def __init__(self, counters, sessionmaker):
        self.counters = counters
        self._sessionmaker = sessionmaker
        self._seeded: set[str] = set()           # counters this process has made sure of

    def _seed(self, charge: Charge) -> None:
        if charge.seed is None or charge.counter in self._seeded:
            return
        if not self.counters.has(charge.counter):
            seed = charge.seed
            column = getattr(SpendCounter, seed.column)
            query = select(func.coalesce(func.sum(column), 0)).where(SpendCounter.subject == seed.subject)
            if seed.first_day is not None:
                query = query.where(SpendCounter.day >= seed.first_day)
            with self._sessionmaker() as s:
                value = s.scalar(query) or 0
            self.counters.seed(charge.counter, to_units(Decimal(str(value))) if seed.column == "spent_usd"
                               else int(value), charge.ttl_s)
        self._seeded.add(charge.counter)

    def reserve(self, charges: list[Charge], now: float | None = None) -> list[int] | None:
        """Reserve every charge or raise the refusal of the first that does not fit; the counters' values after
        it (None when the store failed: the request goes through, the gateway never stops on its counters)."""
        if not charges:
            return []
        try:
            for c in charges:
                self._seed(c)
            failed, current, values = self.counters.reserve(charges)
        except Exception:  # noqa: BLE001 - a broken counter store lets requests through, loudly
            log.warning("limit counters unavailable; the request is not counted", exc_info=True)
            return None
        if failed:
            refused = refusal(charges[failed - 1], current, time.time() if now is None else now)
            refused.charge = charges[failed - 1]
            raise refused
        return values

    def settle(self, charges: list[Charge], actual: list[int]) -> None:
        moves = [(c.counter, a - c.amount) for c, a in zip(charges, actual) if a != c.amount]
        if not moves:
            return
        try:
            self.counters.add(moves)
        except Exception:  # noqa: BLE001
            log.warning("limit counters unavailable; a settlement was lost", exc_info=True)


def refusal(charge: Charge, current: int, now: float) -> exc.GatewayError:
    from gateway.periods import describe_reset
    when = describe_reset(charge.resets_at, now)
    if charge.quota:
        if charge.counter.startswith("spend:"):
            msg = (f"{charge.what} of ${from_units(charge.limit)} is used up (${from_units(current)} spent); "
                   f"{when}.")
        else:
            msg = f"{charge.what} of {charge.limit} requests is used up; {when}."
        return exc.QuotaExceeded(msg[0].upper() + msg[1:])
    retry = max(1.0, (charge.resets_at or now + 60) - now)
    if charge.counter.startswith("rpm:"):
        msg = f"{charge.what} is {charge.limit}; {when}."
    else:
        msg = (f"{charge.what} is {charge.limit}; this request needs up to {charge.amount} and {current} are "
               f"counted in this window; {when}.")
    return exc.RateLimited(msg[0].upper() + msg[1:], retry_after=retry)
