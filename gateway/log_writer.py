"""The request log writer: rows queued by the request path, inserted in batches in a native thread, spilled to
disk (never dropped) when the database refuses them. In the same transaction it adds each batch's spend and
request counts to the per-day counters of its keys and teams (models/spend_counter.py), which the limits start
from, and its usage to the daily rollups (models/usage_rollup.py), which the usage summary reads."""
import glob
import importlib
import json
import logging
import os
import time
from decimal import Decimal

from datetime import date, datetime

from sqlalchemy import insert, select, update

from gateway.background import BatchWriter, native_sleep

from models import RequestAttempt, RequestLog, SpendCounter, UsageRollup
from models.usage_rollup import LATENCY_BUCKETS_MS, OVERHEAD_BUCKETS_MS

log = logging.getLogger("switchyard.log_writer")
_LOG_INSERT = insert(RequestLog.__table__)
_LOG_COLUMNS = tuple(c.name for c in RequestLog.__table__.columns if c.nullable and c.name != "id")
_ATTEMPT_INSERT = insert(RequestAttempt.__table__)
_NOT_COLUMNS = ("attempt_rows", "quota_counted")
_COUNTERS = SpendCounter.__table__
_ROLLUPS = UsageRollup.__table__
_ROLLUP_GROUP = ("day", "key_id", "team_id", "model", "provider")
_ROLLUP_SUMS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
                "cost_usd", "unpriced", "latency_ms_sum", "fallbacks", "streams", "overhead_ms_sum") + tuple(
    f"lat_b{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1)) + tuple(
    f"ovh_b{i}" for i in range(len(OVERHEAD_BUCKETS_MS) + 1))


def _day_of(created) -> date:
    return created.date() if isinstance(created, datetime) else datetime.fromisoformat(str(created)).date()


def _bucket(ms: float, bounds: tuple = LATENCY_BUCKETS_MS) -> int:
    for i, bound in enumerate(bounds):
        if ms <= bound:
            return i
    return len(bounds)


def _rollups(rows: list[dict]) -> dict[tuple, dict]:
    """(day, key, team, model, provider) -> the sums these rows add to that group's rollup."""
    out: dict[tuple, dict] = {}
    for r in rows:
        group = (_day_of(r.get("created_at")), r.get("key_id") or 0, r.get("team_id") or 0,
                 (r.get("requested_model") or "")[:200], r.get("provider") or "")
        sums = out.get(group)
        if sums is None:
            sums = out[group] = {name: 0 for name in _ROLLUP_SUMS}
            sums["cost_usd"], sums["latency_ms_sum"], sums["overhead_ms_sum"] = Decimal(0), 0.0, 0.0
        overhead = float(r.get("gateway_latency_ms") or 0)
        latency = overhead + float(r.get("upstream_latency_ms") or 0)
        sums["requests"] += 1
        sums["errors"] += 1 if (r.get("status") or 200) >= 400 else 0
        for name in ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"):
            sums[name] += r.get(name) or 0
        if r.get("cost_usd") is None:
            sums["unpriced"] += 1 if (r.get("status") or 200) < 400 else 0
        else:
            sums["cost_usd"] += Decimal(str(r["cost_usd"]))
        sums["latency_ms_sum"] += latency
        sums[f"lat_b{_bucket(latency)}"] += 1
        sums["fallbacks"] += 1 if r.get("fallback_used") else 0
        sums["streams"] += 1 if r.get("stream") else 0
        if r.get("gateway_latency_ms") is not None:
            sums["overhead_ms_sum"] += overhead
            sums[f"ovh_b{_bucket(overhead, OVERHEAD_BUCKETS_MS)}"] += 1
    return out


def _upsert(conn, table, group_cols: tuple, sums_cols: tuple, values: dict) -> None:
    """Add `values`' sums to the row of its group: an upsert where the database has one, else update-or-insert."""
    dialect = conn.engine.dialect.name
    if dialect in ("sqlite", "postgresql"):
        stmt = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=list(group_cols), set_={
            c: table.c[c] + stmt.excluded[c] for c in sums_cols}))
        return
    where = [table.c[c] == values[c] for c in group_cols]
    done = conn.execute(update(table).where(*where).values(**{c: table.c[c] + values[c] for c in sums_cols}))
    if not done.rowcount:
        conn.execute(insert(table).values(**values))


def _day_counts(rows: list[dict]) -> dict[tuple[str, date], list]:
    """(subject, UTC day) -> [spend, requests] of these rows, for their key and their team."""
    out: dict[tuple[str, date], list] = {}
    for r in rows:
        counted = bool(r.get("quota_counted"))
        cost = r.get("cost_usd")
        if not counted and not cost:
            continue
        day = _day_of(r.get("created_at"))
        for kind, sid in (("key", r.get("key_id")), ("team", r.get("team_id"))):
            if sid is None:
                continue
            entry = out.setdefault((f"{kind}:{sid}", day), [Decimal(0), 0])
            entry[0] += Decimal(str(cost or 0))
            entry[1] += 1 if counted else 0
    return out


def _add_counts(conn, counts: dict, rollups: dict) -> None:
    for (subject, day), (spent, requests) in sorted(counts.items()):
        _upsert(conn, _COUNTERS, ("subject", "day"), ("spent_usd", "requests"),
                {"subject": subject, "day": day, "spent_usd": spent, "requests": requests})
    for group, sums in sorted(rollups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        _upsert(conn, _ROLLUPS, _ROLLUP_GROUP, _ROLLUP_SUMS, {**dict(zip(_ROLLUP_GROUP, group)), **sums})


def _revive(row: dict) -> dict:
    """A spilled row (JSON) back to insertable values: money as Decimal, the time as a datetime."""
    if row.get("cost_usd") is not None:
        row["cost_usd"] = Decimal(row["cost_usd"])
    if isinstance(row.get("created_at"), str):
        row["created_at"] = datetime.fromisoformat(row["created_at"])
    for column in _LOG_COLUMNS:             # a row spilled by an older release lacks the columns added since
        row.setdefault(column, None)
    return row


class LogWriter(BatchWriter):
    """Takes log rows from the request path on a queue and inserts them in batches, off the hot path, in a
    native thread (so a slow insert never stalls the gevent loop that serves requests).

    A row that cannot be inserted after retries goes to instance/unwritten-logs.jsonl: no row is lost.
    `close()` flushes on shutdown: called by the server's exit path (gunicorn's worker_exit hook,
    deploy/waitress_serve.py).
    """
    thread_name = "log-writer"

    def __init__(self, engine, spill_dir: str, flush_interval_s: float = 0.25, batch_size: int = 500):
        super().__init__(flush_interval_s, batch_size)
        self._engine = engine
        self._spill_path = os.path.join(spill_dir, "unwritten-logs.jsonl")

    def _write(self, rows: list[dict]) -> bool:
        """Insert the rows (True), or spill them to disk after the retries (False)."""
        logs = [{k: v for k, v in r.items() if k not in _NOT_COLUMNS} for r in rows]
        attempts = [a for r in rows for a in r.get("attempt_rows", ())]
        counts, rollups = _day_counts(rows), _rollups(rows)
        for delay in (0.05, 0.2, 1.0, None):
            try:
                with self._engine.begin() as conn:       # Core executemany: no ORM bulk machinery
                    conn.execute(_LOG_INSERT, logs)
                    if attempts:
                        conn.execute(_ATTEMPT_INSERT, attempts)
                    _add_counts(conn, counts, rollups)
                return True
            except Exception:  # noqa: BLE001 - retried, then spilled to disk
                if delay is None:
                    break
                log.warning("log insert failed; retrying in %.2f s", delay, exc_info=True)
                native_sleep(delay)
        log.error("could not insert %d log rows; spilling them to %s", len(rows), self._spill_path)
        os.makedirs(os.path.dirname(self._spill_path), exist_ok=True)
        with open(self._spill_path, "a") as f:
            for r in rows:
                f.write(json.dumps(r, default=str) + "\n")
        return False

    @property
    def spill_path(self) -> str:
        return self._spill_path

    REPLAY_EVERY_S = 5.0
    on_replayed = None              # called with the number of rows replayed (the metrics counter)
    _last_replay = 0.0

    def after_flush(self) -> None:
        """Spilled rows go back in by themselves once the database takes rows again: tried every REPLAY_EVERY_S."""
        now = time.monotonic()
        if now - self._last_replay < self.REPLAY_EVERY_S or not os.path.exists(self._spill_path):
            return
        self._last_replay = now
        count = self.replay_spill()
        if count:
            log.info("replayed %d spilled log rows", count)
            if self.on_replayed is not None:
                self.on_replayed(count)

    def _claim(self) -> list[str]:
        """The spill file, and any file a worker that died mid-replay left behind, renamed to names of this
        process's own, so two workers never replay (or lose) the same rows."""
        mine = []
        for path in [self._spill_path, *glob.glob(glob.escape(self._spill_path) + ".replaying.*")]:
            if path != self._spill_path:
                try:
                    os.kill(int(path.rsplit(".", 2)[1]), 0)
                    continue                        # its worker is alive and replaying it
                except (ProcessLookupError, ValueError):
                    pass
                except PermissionError:
                    continue
            claimed = f"{self._spill_path}.replaying.{os.getpid()}.{os.urandom(4).hex()}"
            try:
                os.replace(path, claimed)           # rows spilled meanwhile go to a fresh file
            except FileNotFoundError:               # another worker claimed it first
                continue
            mine.append(claimed)
        return mine

    def _not_written(self, rows: list[dict]) -> list[dict]:
        """Rows whose request id is not in the table yet: a batch that was committed but reported as failed
        (the connection dropped on the way back) is not written twice."""
        ids = [r["request_id"] for r in rows]
        present = set()
        with self._engine.connect() as conn:
            for i in range(0, len(ids), 500):
                present |= set(conn.scalars(select(RequestLog.request_id)
                                            .where(RequestLog.request_id.in_(ids[i:i + 500]))))
        return [r for r in rows if r["request_id"] not in present]

    def replay_spill(self) -> int:
        """Insert the rows spilled to disk earlier (after the database came back), each once; returns how many."""
        written = 0
        for claimed in self._claim():
            written += self._replay(claimed)
        return written

    def _replay(self, claimed: str) -> int:
        with open(claimed) as f:
            rows = [_revive(json.loads(line)) for line in f if line.strip()]
        try:
            rows = self._not_written(rows)
        except Exception:  # noqa: BLE001 - the database is not back: the batches below spill them again
            pass
        written = 0
        for i in range(0, len(rows), self._batch):
            batch = rows[i:i + self._batch]
            if self._write(batch):                 # a failure here spills them again: still not lost
                written += len(batch)
        os.remove(claimed)
        return written
