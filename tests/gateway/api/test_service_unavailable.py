"""A request that needs the database while it does not answer gets a 503 `service_unavailable` in the OpenAI
envelope (with retry-after), never a 500 `internal`; a key the cache knows is still served (the outage tests in
test_database_outage.py); /readyz keeps `unavailable` for the worker as a whole (test_health.py)."""
import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from gateway import exceptions as exc
from gateway.errors import to_gateway_error
from gateway.keys import create_key
from tests.support.openapi import assert_valid

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def database_down(services, tmp_path):
    """Every new session of the app opens a database file that cannot exist (the request log writer keeps its own
    engine: the rows of these requests are still written)."""
    broken = create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    services.sessionmaker.configure(bind=broken)
    services.keys._expire_all()                   # known keys are looked up again (and served from the cache)
    yield
    services.sessionmaker.configure(bind=services.engine)
    broken.dispose()


def _unavailable(resp: requests.Response) -> str:
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert_valid(body, "ErrorResponse")
    err = body["error"]
    assert err["code"] == err["type"] == "service_unavailable" and resp.headers["retry-after"] == "1"
    return err["message"]


def test_an_unknown_key_while_the_database_is_down_is_a_503(live, services, database_down):
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-sy-not-cached"},
                         json={"model": "openai/gpt-4o-mini", "messages": HELLO}, timeout=10)
    assert "database is not reachable" in _unavailable(resp)


def test_a_known_key_is_served_and_a_database_read_is_a_503_not_a_500(live, services, double, request):
    _, secret = create_key(services.sessionmaker, "svc-unavailable")
    auth = {"Authorization": f"Bearer {secret}"}
    assert requests.get(f"{live.url}/v1/models", headers=auth, timeout=10).status_code == 200   # cached now
    request.getfixturevalue("database_down")
    chat = requests.post(f"{live.url}/v1/chat/completions", headers=auth, timeout=10,
                         json={"model": "openai/gpt-4o-mini", "messages": HELLO})
    assert chat.status_code == 200                                   # no database on the chat path
    usage = requests.get(f"{live.url}/v1/usage", headers=auth, timeout=10)  # reads the log: needs the database
    assert "database is not reachable" in _unavailable(usage)


def test_every_database_failure_maps_to_service_unavailable():
    err = to_gateway_error(OperationalError("SELECT 1", {}, Exception("could not connect to server")))
    assert isinstance(err, exc.ServiceUnavailable) and isinstance(err, exc.Unavailable)
    assert (err.status, err.code, err.retry_after) == (503, "service_unavailable", 1)
    assert "could not connect" not in err.message                    # the driver's words stay in the log
