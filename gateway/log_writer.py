"""The request log writer: rows queued by the request path, inserted in batches in a native thread, spilled to
disk (never dropped) when the database refuses them. In the same transaction it adds each batch's spend and
request counts to the per-day counters of its keys and teams (models/spend_counter.py), which the limits start
from."""
import json
import logging
import os
from decimal import Decimal

from datetime import date, datetime

from sqlalchemy import insert, update

from gateway.background import BatchWriter, native_sleep

from models import RequestAttempt, RequestLog, SpendCounter

log = logging.getLogger("switchyard.log_writer")
_LOG_INSERT = insert(RequestLog.__table__)
_LOG_COLUMNS = tuple(c.name for c in RequestLog.__table__.columns if c.nullable and c.name != "id")
_ATTEMPT_INSERT = insert(RequestAttempt.__table__)
_NOT_COLUMNS = ("attempt_rows", "quota_counted")
_COUNTERS = SpendCounter.__table__


def _day_counts(rows: list[dict]) -> dict[tuple[str, date], list]:
    """(subject, UTC day) -> [spend, requests] of these rows, for their key and their team."""
    out: dict[tuple[str, date], list] = {}
    for r in rows:
        counted = bool(r.get("quota_counted"))
        cost = r.get("cost_usd")
        if not counted and not cost:
            continue
        created = r.get("created_at")
        day = created.date() if isinstance(created, datetime) else datetime.fromisoformat(str(created)).date()
        for kind, sid in (("key", r.get("key_id")), ("team", r.get("team_id"))):
            if sid is None:
                continue
            entry = out.setdefault((f"{kind}:{sid}", day), [Decimal(0), 0])
            entry[0] += Decimal(str(cost or 0))
            entry[1] += 1 if counted else 0
    return out


def _add_counts(conn, counts: dict) -> None:
    """Add to the per-day counters: an upsert where the database has one (SQLite, PostgreSQL), else update-or-insert."""
    dialect = conn.engine.dialect.name
    for (subject, day), (spent, requests) in sorted(counts.items()):
        values = {"subject": subject, "day": day, "spent_usd": spent, "requests": requests}
        if dialect in ("sqlite", "postgresql"):
            mod = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
            stmt = mod.insert(_COUNTERS).values(**values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["subject", "day"], set_={
                "spent_usd": _COUNTERS.c.spent_usd + stmt.excluded.spent_usd,
                "requests": _COUNTERS.c.requests + stmt.excluded.requests}))
            continue
        done = conn.execute(update(_COUNTERS).where(_COUNTERS.c.subject == subject, _COUNTERS.c.day == day)
                            .values(spent_usd=_COUNTERS.c.spent_usd + spent,
                                    requests=_COUNTERS.c.requests + requests))
        if not done.rowcount:
            conn.execute(insert(_COUNTERS).values(**values))


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

    def _write(self, rows: list[dict]) -> None:
        logs = [{k: v for k, v in r.items() if k not in _NOT_COLUMNS} for r in rows]
        attempts = [a for r in rows for a in r.get("attempt_rows", ())]
        counts = _day_counts(rows)
        for delay in (0.05, 0.2, 1.0, None):
            try:
                with self._engine.begin() as conn:       # Core executemany: no ORM bulk machinery
                    conn.execute(_LOG_INSERT, logs)
                    if attempts:
                        conn.execute(_ATTEMPT_INSERT, attempts)
                    if counts:
                        _add_counts(conn, counts)
                return
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

    @property
    def spill_path(self) -> str:
        return self._spill_path

    def replay_spill(self) -> int:
        """Insert the rows spilled to disk earlier (after the database came back); returns how many."""
        if not os.path.exists(self._spill_path):
            return 0
        claimed = self._spill_path + ".replaying"
        os.replace(self._spill_path, claimed)      # rows spilled meanwhile go to a fresh file
        with open(claimed) as f:
            rows = [_revive(json.loads(line)) for line in f if line.strip()]
        for i in range(0, len(rows), self._batch):
            self._write(rows[i:i + self._batch])   # a failure here spills them again: still not lost
        os.remove(claimed)
        return len(rows)
