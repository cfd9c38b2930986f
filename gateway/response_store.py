"""Stored responses (previous_response_id, GET/DELETE /v1/responses/{id}): written off the request path, readable
as soon as the answer has been sent, on any worker and any host.

- `put` queues the row for a native writer thread (batched inserts, like the log writer) and keeps it in this
  process's `pending` map until it is in the database: a read in this worker sees it at once.
- A read that misses both in a response id minted in the last few seconds (the id carries its time, see
  gateway/responses/response.py) waits, polling the database, for the worker or host that made it to flush;
  an id older than that, or of another key, is simply absent (404).
- A delete empties the row and marks it (a tombstone): every worker answers 404 for it at once, without waiting.
- Scoped: every read and delete names the key; another key's id is absent. Retention: rows older than
  SWITCHYARD_RESPONSE_RETENTION_DAYS are never returned, and `purge` (on the catalog's background beat, at most
  hourly) deletes them.
Nothing is cached once written: a delete made on another worker is seen at the next read."""
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select, update

from gateway.background import BatchWriter, native_sleep
from gateway.responses.response import is_response_id, response_time
from gateway.responses.stored import without_minted_ids
from models import StoredResponse

log = logging.getLogger("switchyard.response_store")
_TABLE = StoredResponse.__table__
YOUNG_S = 10.0          # an id this recent may still be in another worker's queue
WAIT_S = 2.0            # the longest a read waits for it
POLL_S = 0.05
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Stored:
    id: str
    key_id: int
    created_at: datetime
    model: str | None
    previous_response_id: str | None
    history: list
    input_items: list
    response: dict
    deleted: bool = False

    def context(self) -> list:
        """The items a response continuing this one starts from: its history, its input, its output."""
        return self.history + without_minted_ids(self.input_items, self.id) + list(self.response.get("output") or [])

    def row(self) -> dict:
        model = self.model[:200].replace("\x00", "\ufffd") if isinstance(self.model, str) else None   # the column
        return {"id": self.id, "key_id": self.key_id, "created_at": self.created_at, "model": model,
                "previous_response_id": self.previous_response_id, "history": json.dumps(self.history),
                "input_items": json.dumps(self.input_items), "response": json.dumps(self.response)}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _from_row(r) -> Stored:
    if r.deleted_at is not None:
        return Stored(r.id, r.key_id, r.created_at, None, None, [], [], {}, deleted=True)
    return Stored(r.id, r.key_id, r.created_at, r.model, r.previous_response_id, json.loads(r.history),
                  json.loads(r.input_items), json.loads(r.response))


class ResponseStore(BatchWriter):
    """Its queue holds ("put", Stored) and ("delete", id) in the order they were made."""
    thread_name = "response-store"

    def __init__(self, engine, retention_days: int, flush_interval_s: float = 0.05, batch_size: int = 200):
        super().__init__(flush_interval_s, batch_size)
        self._engine = engine
        self._retention = timedelta(days=retention_days)
        self._pending: dict[str, Stored] = {}
        self._last_purge = 0.0

    # ---- the request path

    def put(self, stored: Stored) -> None:
        self._pending[stored.id] = stored
        self.submit(("put", stored))

    def get(self, key_id: int, response_id: str) -> Stored | None:
        """The key's stored response, or None (unknown, another key's, deleted, or past retention)."""
        if not is_response_id(response_id):
            return None                # never one of ours (and a NUL or an overlong id is no SQL parameter)
        deadline = None
        while True:
            hit = self._pending.get(response_id)
            if hit is None:
                hit = self._read(response_id)
            if hit is not None:
                return hit if hit.key_id == key_id and not hit.deleted and self._alive(hit) else None
            if deadline is None:
                minted = response_time(response_id)
                if minted is None or time.time() - minted > YOUNG_S:
                    return None
                deadline = time.monotonic() + WAIT_S
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)

    def delete(self, key_id: int, response_id: str) -> bool:
        if self.get(key_id, response_id) is None:
            return False
        self._pending.pop(response_id, None)
        self.submit(("delete", response_id))
        self.flush()                  # a delete is visible to every worker when the client hears it worked
        return True

    # ---- the writer

    def _alive(self, stored: Stored) -> bool:
        return stored.created_at >= _utcnow() - self._retention

    def _read(self, response_id: str) -> Stored | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.id == response_id)).first()
        return _from_row(row) if row is not None else None

    def _write(self, ops: list) -> None:
        for delay in (0.05, 0.2, 1.0, 5.0, None):
            try:
                with self._engine.begin() as conn:
                    for kind, group in _runs(ops):
                        if kind == "put":
                            conn.execute(insert(_TABLE), [s.row() for s in group])
                        else:
                            conn.execute(update(_TABLE).where(_TABLE.c.id.in_(group)).values(
                                deleted_at=_utcnow(), history="[]", input_items="[]", response="{}"))
                break
            except Exception:  # noqa: BLE001 - retried; the rows stay readable from `pending` meanwhile
                if delay is None:
                    log.error("could not store %d responses; they stay readable in this worker only", len(ops))
                    return
                log.warning("storing responses failed; retrying in %.2f s", delay, exc_info=True)
                native_sleep(delay)
        for kind, item in ops:
            if kind == "put" and self._pending.get(item.id) is item:
                del self._pending[item.id]

    def purge(self, now: float | None = None) -> int:
        """Delete rows past retention (at most once per PURGE_EVERY_S); returns how many went."""
        now = time.monotonic() if now is None else now
        if now - self._last_purge < PURGE_EVERY_S:
            return 0
        self._last_purge = now
        with self._engine.begin() as conn:
            result = conn.execute(delete(_TABLE).where(_TABLE.c.created_at < _utcnow() - self._retention))
        return result.rowcount or 0


def _runs(ops: list):
    """Consecutive puts as one insert, consecutive deletes as one delete, in order."""
    kind, group = None, []
    for op_kind, item in ops:
        if op_kind != kind and group:
            yield kind, group
            group = []
        kind = op_kind
        group.append(item)
    if group:
        yield kind, group
