"""While 200 requests run, the database becomes unavailable and then comes back: every row is there exactly once,
in the rollups too, and every client got its answer. On SQLite the file is locked by another writer for a while
(the writer waits and then writes); on PostgreSQL (CI) the server is stopped and started again (the writer spills
the rows to disk and writes them back by itself once it can)."""
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from gateway.keys import create_key
from models import RequestLog, UsageRollup

N = 200


def _run_load(live, secret, outage) -> list[str]:
    ids, codes, lock = [], [], threading.Lock()

    def worker(count):
        for _ in range(count):
            r = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                              json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                              timeout=30)
            with lock:
                codes.append(r.status_code)
                ids.append(r.headers["x-request-id"])
    threads = [threading.Thread(target=worker, args=(N // 10,)) for _ in range(10)]
    for t in threads:
        t.start()
    outage()
    for t in threads:
        t.join(60)
    assert codes == [200] * N
    return ids


def _all_rows_once(services, key_id: int, ids: list[str], wait_s: float) -> None:
    deadline = time.time() + wait_s
    while True:
        services.log_writer.flush()
        try:
            with services.sessionmaker() as s:
                found = s.scalars(select(RequestLog.request_id).where(RequestLog.key_id == key_id)).all()
                rolled = s.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.key_id == key_id))
        except Exception:  # noqa: BLE001 - the database may still be coming back
            found, rolled = [], None
        if len(found) >= len(ids) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(found) == len(set(found)) == len(ids) and set(found) == set(ids)
    assert rolled == len(ids)


def _key(services, live):
    row, secret = create_key(services.sessionmaker, "outage")
    warm = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                         json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                         timeout=10)
    assert warm.status_code == 200                  # the key is cached before the database goes away
    return row.id, secret, warm.headers["x-request-id"]


@pytest.mark.skipif(os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"), reason="the SQLite case")
def test_a_locked_sqlite_file_loses_no_row(live, services, database_url):
    key_id, secret, warm = _key(services, live)
    path = database_url.split(":///", 1)[1]

    def outage():
        time.sleep(0.2)
        locker = sqlite3.connect(path, timeout=30)
        locker.execute("BEGIN EXCLUSIVE")             # another writer holds the file
        time.sleep(3)
        locker.rollback()
        locker.close()
    ids = _run_load(live, secret, outage)
    _all_rows_once(services, key_id, ids + [warm], wait_s=60)


def _pg_ctl():
    return shutil.which("pg_ctlcluster")


@pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") and _pg_ctl()
                         and os.geteuid() == 0),
                    reason="needs the CI's PostgreSQL (TEST_DATABASE_URL) and root to stop and start it")
def test_a_stopped_postgresql_loses_no_row(live, services, monkeypatch):
    from gateway.log_writer import LogWriter
    monkeypatch.setattr(LogWriter, "REPLAY_EVERY_S", 0.5)
    key_id, secret, warm = _key(services, live)
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    version = os.environ.get("PG_VERSION") or versions[-1]        # the cluster .ci/run started

    def outage():
        time.sleep(0.3)
        subprocess.run([_pg_ctl(), version, "main", "stop", "-m", "fast"], check=True, timeout=60)
        time.sleep(2)
        subprocess.run([_pg_ctl(), version, "main", "start"], check=True, timeout=60)
    ids = _run_load(live, secret, outage)
    _all_rows_once(services, key_id, ids + [warm], wait_s=60)
