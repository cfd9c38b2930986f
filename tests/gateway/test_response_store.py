"""The response store on a real database, as two workers (two stores on one database) use it: a response put in
one is read by the other the moment it asks (it waits for the writer's flush, bounded), a delete made in one is a
404 in the other at once, another key never sees it, and retention hides and purges old rows."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway import response_store
from gateway.db import make_engine
from gateway.response_store import ResponseStore, Stored
from gateway.responses.response import new_response_id, response_time
from models import StoredResponse


@pytest.fixture
def engine(database_url):
    e = make_engine(database_url)
    yield e
    e.dispose()


def _stored(key_id=1, created=None, rid=None) -> Stored:
    rid = rid or new_response_id()
    created = created or datetime.now(timezone.utc).replace(tzinfo=None)
    return Stored(rid, key_id, created, "openai/gpt-4o-mini", None, [],
                  [{"id": "msg_1", "type": "message", "role": "user", "content": [], "status": "completed"}],
                  {"id": rid, "object": "response", "output": []})


def test_ids_carry_their_mint_time_and_whether_they_are_stored():
    rid = new_response_id(now=1_700_000_000.5)
    assert rid.startswith("resp_") and len(rid) == 37
    assert response_time(rid) == 1_700_000_000.5
    assert response_time(new_response_id(stored=False)) is None           # never stored: nothing to wait for
    assert response_time("resp_123") is None and response_time("resp_" + "z" * 32) is None


def test_the_other_worker_reads_it_as_soon_as_the_maker_flushes(engine):
    maker = ResponseStore(engine, 30, flush_interval_s=3600)       # its writer thread never flushes by itself
    reader = ResponseStore(engine, 30)
    stored = _stored()
    maker.put(stored)
    assert maker.get(1, stored.id) is stored                       # the maker's own worker: at once, from memory
    flusher = threading.Timer(0.3, maker.flush)                    # the maker's writer catches up meanwhile
    flusher.start()
    t0 = time.monotonic()
    got = reader.get(1, stored.id)                                 # waits for it: the id is young
    assert got is not None and got.input_items == stored.input_items and got.response == stored.response
    assert 0.25 <= time.monotonic() - t0 < response_store.WAIT_S
    assert reader.get(2, stored.id) is None                        # another key: absent


def test_a_young_id_nobody_stores_is_absent_after_the_bounded_wait(engine, monkeypatch):
    monkeypatch.setattr(response_store, "WAIT_S", 0.2)
    store = ResponseStore(engine, 30)
    t0 = time.monotonic()
    assert store.get(1, new_response_id()) is None
    assert 0.2 <= time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    assert store.get(1, new_response_id(now=time.time() - 3600)) is None   # old: no wait at all
    assert time.monotonic() - t0 < 0.15


def test_a_delete_in_one_worker_is_a_404_in_the_other_at_once(engine):
    a, b = ResponseStore(engine, 30), ResponseStore(engine, 30)
    stored = _stored()
    a.put(stored)
    a.flush()
    assert b.get(1, stored.id) is not None
    assert b.delete(2, stored.id) is False                         # not its key's
    assert b.delete(1, stored.id) is True
    t0 = time.monotonic()
    assert a.get(1, stored.id) is None and time.monotonic() - t0 < 0.15    # a tombstone: no waiting
    assert a.delete(1, stored.id) is False


def test_retention_hides_old_rows_and_purge_deletes_them(engine):
    store = ResponseStore(engine, 30)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    old, young = _stored(created=now - timedelta(days=31)), _stored(created=now - timedelta(days=29))
    store.put(old)
    store.put(young)
    store.flush()
    assert store.get(1, old.id) is None and store.get(1, young.id) is not None
    assert store.purge(now=1e9) >= 1
    with engine.connect() as conn:
        ids = set(conn.scalars(select(StoredResponse.id).where(StoredResponse.id.in_([old.id, young.id]))))
    assert ids == {young.id}
    assert store.purge(now=1e9 + 60) == 0                          # at most once per PURGE_EVERY_S
