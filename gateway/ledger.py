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


# One call for a batch of requests, each all or nothing, in order: first the settlements that ride along
# (ARGV[1] = how many, then their deltas, on the first KEYS), then per request its charge count and, per charge,
# amount, limit, strict ("1"/"0") and ttl. Returns per request 0 and the counters' values after, or the 1-based
# index of the refusing charge and that counter's value.
_RESERVE = """
local nm = tonumber(ARGV[1])
for j = 1, nm do redis.call('INCRBY', KEYS[j], ARGV[1 + j]) end
local a, k = 2 + nm, nm + 1
local nr = tonumber(ARGV[a]); a = a + 1
local out = {}
for r = 1, nr do
  local n = tonumber(ARGV[a]); a = a + 1
  local failed, failcur = 0, 0
  for i = 0, n - 1 do
    local cur = tonumber(redis.call('GET', KEYS[k + i]) or '0')
    local amount, limit, strict = tonumber(ARGV[a + 4*i]), tonumber(ARGV[a + 4*i + 1]), ARGV[a + 4*i + 2]
    if failed == 0 and ((strict == '1' and cur + amount > limit) or (strict == '0' and cur >= limit)) then
      failed, failcur = i + 1, cur
    end
  end
  if failed == 0 then
    out[#out + 1] = 0
    for i = 0, n - 1 do
      local v = redis.call('INCRBY', KEYS[k + i], ARGV[a + 4*i])
      local ttl = tonumber(ARGV[a + 4*i + 3])
      if ttl > 0 and redis.call('TTL', KEYS[k + i]) < 0 then redis.call('EXPIRE', KEYS[k + i], ttl) end
      out[#out + 1] = v
    end
  else
    out[#out + 1] = failed
    out[#out + 1] = failcur
  end
  a, k = a + 4*n, k + n
end
return out
"""


class _Waiting:
    """One request's charges waiting for a batch (RedisCounters.reserve)."""
    __slots__ = ("charges", "done", "lead", "result", "error")

    def __init__(self, charges):
        self.charges, self.done, self.lead = charges, threading.Event(), False
        self.result, self.error = None, None


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
    """The same counters in Redis, shared by every worker and host. Reservations go in batches, like a group
    commit: a request whose worker has no call in flight sends its own at once; those that arrive meanwhile wait
    and go together in the next call (one Lua script: each request still all or nothing, in order). Settlements
    ride with the next call, or go as one pipeline when none comes within SETTLE_EVERY_S; other workers and
    hosts see them within that time."""
    SETTLE_EVERY_S = 0.02
    WAIT_S = 2.0                                # a waiting request gives up (and goes through uncounted)

    def __init__(self, redis, prefix: str):
        self._redis, self._prefix = redis, f"{prefix}ledger:"
        self._script = redis.register_script(_RESERVE)
        self._moves: dict[str, int] = {}
        self._queue: list[_Waiting] = []
        self._busy = False
        self._flushing = False
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        return bool(self._redis.exists(self._prefix + name))

    def seed(self, name: str, value: int, ttl_s: int | None) -> None:
        self._redis.set(self._prefix + name, value, nx=True, ex=ttl_s or None)

    def reserve(self, charges: list[Charge]) -> tuple[int, int, list[int]]:
        me = _Waiting(charges)
        with self._lock:
            self._queue.append(me)
            if not self._busy:
                self._busy = me.lead = True
        if not me.lead and not me.done.wait(self.WAIT_S):
            with self._lock:
                if not me.lead:                  # (else the lead came just now: send as below)
                    if me in self._queue:
                        self._queue.remove(me)
                    raise TimeoutError("no answer from the limit counters' batch")
        if me.lead:                              # first in, or handed the lead by the batch before
            self._send_batch()
        if me.error is not None:
            raise me.error
        return me.result

    def _send_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            moves, self._moves = {n: d for n, d in self._moves.items() if d}, {}
        keys = [self._prefix + n for n in moves]
        args: list = [len(moves), *moves.values(), len(batch)]
        for w in batch:
            args.append(len(w.charges))
            for c in w.charges:
                keys.append(self._prefix + c.counter)
                args += [c.amount, c.limit, "1" if c.strict else "0", c.ttl_s or 0]
        try:
            out = [int(v) for v in self._script(keys=keys, args=args)]
        except Exception as e:  # noqa: BLE001 - every request of the batch hears of it
            # the settlements are dropped, not retried: the call may have run before it failed, and applying them
            # twice would let through more than a limit; a lost one only errs on the side of refusing
            for w in batch:
                w.error = e
        else:
            pos = 0
            for w in batch:
                if out[pos] == 0:
                    w.result = (0, 0, out[pos + 1:pos + 1 + len(w.charges)])
                    pos += 1 + len(w.charges)
                else:
                    w.result = (out[pos], out[pos + 1], [])
                    pos += 2
        with self._lock:                         # hand the lead to the first that came meanwhile
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._busy = False
        for w in batch:
            w.done.set()

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
        pipe.execute()          # on failure the settlements are lost, never applied twice (see _send_batch)


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
