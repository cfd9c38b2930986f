"""/healthz and /readyz through HTTP: ready with the database (and Redis, when configured) answering and the log
writer keeping up; 503 in the OpenAI envelope naming the check that failed; /healthz touches nothing."""
import time

import pytest
import requests
from sqlalchemy import create_engine

from app import create_app
from gateway.redis_client import make_redis
from tests.support.server import LiveServer

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def broken_db(services, monkeypatch, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/no/such/dir/switchyard.db")
    monkeypatch.setattr(services, "engine", engine)
    yield
    engine.dispose()


def _not_ready(resp: requests.Response) -> str:
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "code", "param"} and err["code"] == err["type"] == "unavailable"
    return err["message"]


def test_ready_when_every_check_passes(live):
    resp = requests.get(f"{live.url}/readyz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ready"})


def test_not_ready_when_the_database_is_unreachable(live, broken_db):
    message = _not_ready(requests.get(f"{live.url}/readyz"))
    assert "database is not reachable" in message and "Redis" not in message and "backed up" not in message


def test_healthz_stays_cheap_it_needs_no_database(live, broken_db):
    resp = requests.get(f"{live.url}/healthz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


@pytest.fixture
def dead_redis(services, monkeypatch):
    """The services' Redis client pointed at a port nothing listens on (port 1)."""
    monkeypatch.setattr(services, "redis", make_redis("redis://127.0.0.1:1/0"))


def test_not_ready_when_the_configured_redis_does_not_answer(live, dead_redis):
    t0 = time.monotonic()
    message = _not_ready(requests.get(f"{live.url}/readyz"))
    assert "Redis is not reachable" in message and "database" not in message
    assert time.monotonic() - t0 < 2.0                                               # a short timeout


def test_every_failed_check_is_named(live, services, broken_db, dead_redis, monkeypatch):
    monkeypatch.setattr(services.settings, "READY_MAX_LOG_BACKLOG", -1)               # any backlog is too much
    message = _not_ready(requests.get(f"{live.url}/readyz"))
    assert "database" in message and "Redis" in message and "SWITCHYARD_READY_MAX_LOG_BACKLOG=-1" in message


@pytest.fixture(scope="module")
def backlogged(app, services):
    """A second worker of the same deployment whose log writer does not flush (on its own) for an hour and whose
    readiness allows no queued row at all."""
    slow = create_app({"DATABASE_URL": services.settings.DATABASE_URL, "TESTING": True,
                       "INSTANCE_DIR": services.settings.INSTANCE_DIR, "CATALOG_REFRESH_S": 0,
                       "LOG_FLUSH_INTERVAL_S": 3600, "READY_MAX_LOG_BACKLOG": 0,
                       "COOLDOWN_FAILURES": 10**6, "REDIS_PREFIX": services.settings.REDIS_PREFIX})
    server = LiveServer(slow).start()
    yield server, slow.extensions["switchyard"]
    server.stop()
    slow.extensions["switchyard"].shutdown()


def test_not_ready_while_the_log_writer_is_backed_up_past_the_bound(backlogged, api_key):
    server, svc = backlogged
    assert requests.get(f"{server.url}/readyz").status_code == 200                   # nothing queued yet
    resp = requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/gpt-4o-mini", "messages": HELLO})
    assert resp.status_code == 200
    deadline = time.time() + 5                     # the row is handed over once the server closed the response
    while svc.log_writer.pending < 1 and time.time() < deadline:
        time.sleep(0.01)
    assert svc.log_writer.pending == 1
    message = _not_ready(requests.get(f"{server.url}/readyz"))
    assert "log writer is backed up (1 rows queued" in message and "SWITCHYARD_READY_MAX_LOG_BACKLOG=0" in message
    metrics = requests.get(f"{server.url}/metrics").text
    assert "switchyard_log_queue_rows 1.0" in metrics
    svc.log_writer.flush()
    assert requests.get(f"{server.url}/readyz").status_code == 200
    assert "switchyard_log_queue_rows 0.0" in requests.get(f"{server.url}/metrics").text
