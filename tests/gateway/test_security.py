"""The security suite: keys compared in constant time; no secret in logs, answers, metrics, /openapi.json, the
database's plain columns or admin pages after a run that used them all; upstream URLs only from configuration;
the client's Authorization never upstream; CORS off unless configured; admin forms need a session and a CSRF
token; provider messages scrubbed of the provider key, in JSON answers and in streams.

Covered elsewhere and not repeated here: a provider 401 quoting our key, masked or whole (tests/gateway/api/
test_broken_upstreams.py::test_a_providers_401_never_carries_our_key_back); the admin pages' sign-in redirect, the
login's and the key form's CSRF token, another session's token, sign-out (tests/gateway/admin/test_admin_panel.py);
base_url checks at import (tests/gateway/test_config_rules.py, tests/gateway/test_config_file.py)."""
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, event, inspect, select, text

from app import create_app
from gateway import auth
from gateway.auth import KeyCache, hash_key
from gateway.keys import create_key
from models import ApiKey, ModelPrice, Provider, RequestLog, Route
from tests.gateway.admin.conftest import PREFIX, AdminClient, csrf_of
from tests.support.double import openai_completion, openai_stream
from tests.support.procs import Gateway, flask, prepared_env

HELLO = [{"role": "user", "content": "Hello"}]
PROVIDER_KEYS = ("test-openai-key", "test-anthropic-key", "test-gemini-key")     # tests/conftest.py base_config


def _post(url: str, key: str, body: dict, **kw) -> requests.Response:
    return requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}",
                                                                **kw.pop("headers", {})}, json=body, timeout=20, **kw)


# --- keys compared in constant time --------------------------------------------------------------------------------

def test_a_gateway_key_is_found_by_its_hash_and_compared_in_constant_time(services, monkeypatch):
    row, secret = create_key(services.sessionmaker, "constant-time")
    compared, statements = [], []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))

    def record(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params))
    event.listen(services.engine, "before_cursor_execute", record)
    try:
        cache = KeyCache(services.sessionmaker, ttl_s=30)          # cold: the lookup goes to the database
        assert cache.lookup(secret).id == row.id
        with pytest.raises(Exception) as info:
            cache.lookup(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
        assert getattr(info.value, "code", None) == "auth_invalid"
    finally:
        event.remove(services.engine, "before_cursor_execute", record)
    digest = hash_key(secret).encode()
    assert (row.key_hash.encode(), digest) in compared               # the stored hash against the secret's hash
    assert all(secret.encode() not in (a, b) for a, b in compared)   # never the secret itself
    lookups = [(s, p) for s, p in statements if "api_keys" in s and "key_hash" in s]
    assert lookups and all(secret not in str(p) for _, p in lookups)   # the database is asked by hash only
    assert any(hashlib.sha256(secret.encode()).hexdigest() in str(p) for _, p in lookups)
    indexes = {tuple(i["column_names"]) for i in inspect(services.engine).get_indexes("api_keys")}
    uniques = {tuple(u["column_names"]) for u in inspect(services.engine).get_unique_constraints("api_keys")}
    assert ("key_hash",) in indexes | uniques and ("previous_key_hash",) in indexes     # an index lookup, no scan


def test_the_metrics_token_is_compared_in_constant_time(app, services, monkeypatch):
    from gateway.api import health
    seen = []
    real = health.hmac.compare_digest
    monkeypatch.setattr(health.hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    monkeypatch.setattr(services.settings, "METRICS_TOKEN", "metrics-token-value")
    client = app.test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer metrics-token-value"}).status_code == 200
    assert seen == [(b"wrong", b"metrics-token-value"), (b"metrics-token-value", b"metrics-token-value")]


# --- no secret anywhere after a run that used them all -------------------------------------------------------------

ADMIN_NAME, ADMIN_PASSWORD = "security-admin", "a-long-admin-password-7f3a"


def _admin_session(url: str) -> requests.Session:
    s = requests.Session()
    token = csrf_of(s.get(f"{url}/admin/login/", timeout=10).text)
    resp = s.post(f"{url}/admin/login/", data={"username": ADMIN_NAME, "password": ADMIN_PASSWORD,
                                               "csrf_token": token}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and "switchyard_admin" in s.cookies
    return s


def test_no_secret_reaches_logs_answers_metrics_openapi_the_database_or_admin_pages(tmp_path, double):
    env, key = prepared_env(tmp_path, double.url, SWITCHYARD_ACCESS_LOG="json", SWITCHYARD_LOG_LEVEL="debug")
    flask(env, "admin", "create-user", "--username", ADMIN_NAME, "--password", ADMIN_PASSWORD)
    second = flask(env, "keys", "create", "--name", "second").stdout.strip().splitlines()[-1]
    wrong = "sk-sy-" + "W" * 43                                       # a made-up key a client sends
    gw = Gateway(env, tmp_path / "gunicorn.log").start()
    engine = create_engine(env["DATABASE_URL"])
    seen: list[str] = []                                              # every answer: body and headers

    def keep(resp: requests.Response) -> requests.Response:
        seen.append(json.dumps(dict(resp.headers)) + "\n" + resp.content.decode("utf-8", "replace"))
        return resp
    try:
        url = gw.url
        for model in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "smart"):
            assert keep(_post(url, key, {"model": model, "messages": HELLO})).status_code == 200
        assert keep(_post(url, second, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})) \
            .status_code == 200
        assert keep(_post(url, wrong, {"model": "openai/gpt-4o-mini", "messages": HELLO})).status_code == 401
        assert keep(requests.get(f"{url}/v1/models", headers={"Authorization": wrong}, timeout=10)).status_code == 401
        quoted = "Incorrect API key provided: test-ope***********-key, and test-openai-key again."
        double.enqueue("gpt-4o-mini", {"status": 401, "body": {"error": {"message": quoted, "type": "x"}}},
                       {"status": 400, "body": {"error": {"message": "key test-openai-key: bad 'x'", "type": "x"}}})
        assert keep(_post(url, key, {"model": "openai/gpt-4o-mini", "messages": HELLO})).status_code == 502
        assert keep(_post(url, key, {"model": "openai/gpt-4o-mini", "messages": HELLO})).status_code == 400
        resp, streamed = _stream_failing_midway(url, key, double, "stream broke for test-openai-key")
        seen.append(json.dumps(dict(resp.headers)) + "\n" + streamed)
        assert "[redacted]" in streamed
        assert keep(requests.get(f"{url}/v1/usage", headers={"Authorization": f"Bearer {key}"}, timeout=10)) \
            .status_code == 200
        metrics = keep(requests.get(f"{url}/metrics", timeout=10))
        assert metrics.status_code == 200 and "switchyard_requests_total" in metrics.text
        keep(requests.get(f"{url}/openapi.json", timeout=10))          # grepped too, when the endpoint exists

        admin = _admin_session(url)
        session_cookie = admin.cookies["switchyard_admin"]
        with engine.connect() as conn:
            ids = {t: conn.execute(text(f"SELECT max(id) FROM {t}")).scalar()
                   for t in ("api_keys", "providers", "models", "routes", "request_logs")}
        pages = ["/admin/", "/admin/keys/", "/admin/keys/new/", f"/admin/keys/details/?id={ids['api_keys']}",
                 f"/admin/keys/edit/?id={ids['api_keys']}", "/admin/providers/", "/admin/providers/new/",
                 f"/admin/providers/edit/?id={ids['providers']}", f"/admin/providers/details/?id={ids['providers']}",
                 "/admin/models/", f"/admin/models/edit/?id={ids['models']}", "/admin/routes/",
                 f"/admin/routes/edit/?id={ids['routes']}", "/admin/logs/",
                 f"/admin/logs/details/?id={ids['request_logs']}", f"/admin/logs/?search={key[:12]}"]
        for page in pages:
            resp = keep(admin.get(f"{url}{page}", timeout=10))
            assert resp.status_code == 200, page
    finally:
        assert gw.stop() == 0                                         # the log rows are flushed on the way out
    with engine.connect() as conn:                                    # every plain column of every table
        dump = "\n".join(str(tuple(row)) for table in inspect(engine).get_table_names()
                         for row in conn.execute(text(f"SELECT * FROM {table}")))
    engine.dispose()
    logs = gw.output()
    assert '"request_id"' in logs and "upstream attempt failed" in logs          # the logs were written ...
    assert key[:12] in logs and key[:12] in "".join(seen)           # ... with the key's display prefix, by design
    secrets = {"gateway key": key, "second gateway key": second, "a client's wrong key": wrong,
               "admin password": ADMIN_PASSWORD, "admin session cookie": session_cookie,
               "masked provider key": "test-ope***********-key",
               **{f"provider key {k}": k for k in PROVIDER_KEYS}}
    places = {"gunicorn and app logs (stderr, access log)": logs, "the database's plain columns": dump,
              **{f"answer {i}": text_ for i, text_ in enumerate(seen)}}
    leaks = [f"{what} in {where}" for what, value in secrets.items() for where, body in places.items()
             if value in body]
    assert leaks == []


# --- upstream URLs only from configuration --------------------------------------------------------------------------

class _Elsewhere:
    """An HTTP server no call may reach: it counts every request it gets."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                body = orjson.dumps(openai_completion("evil", "redirected"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere():
    server = _Elsewhere()
    yield server
    server.close()


def test_no_header_or_body_field_redirects_an_upstream_call(live, api_key, double, elsewhere):
    evil = f"http://{elsewhere.host}/v1"
    headers = {"X-Forwarded-Host": elsewhere.host, "X-Forwarded-Proto": "http", "Forwarded": f"host={elsewhere.host}",
               "X-Original-URL": evil, "X-Rewrite-URL": evil, "Host": elsewhere.host, "X-Host": elsewhere.host,
               "X-Base-Url": evil, "OpenAI-Base-URL": evil}
    fields = {"base_url": evil, "api_base": evil, "baseURL": evil, "url": evil, "endpoint": evil,
              "extra_headers": {"Host": elsewhere.host}, "extra_body": {"base_url": evil}}
    for model in ("openai/gpt-4o-mini", "smart"):          # unknown fields pass through to OpenAI-compatible ones
        resp = _post(live.url, api_key, {"model": model, "messages": HELLO, **fields}, headers=headers)
        assert resp.status_code == 200, resp.text
    for model in ("anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"):    # (others refuse them: a 400)
        resp = _post(live.url, api_key, {"model": model, "messages": HELLO}, headers=headers)
        assert resp.status_code == 200, resp.text
    for stream in (False, True):
        assert _post(live.url, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": stream,
                                         **fields}, headers=headers).status_code == 200
    resp = requests.post(f"{live.url}/v1/responses", headers={"Authorization": f"Bearer {api_key}", **headers},
                         json={"model": "openai/gpt-4o-mini", "input": "hi", **fields}, timeout=20)
    assert resp.status_code == 200, resp.text
    for model in (evil, f"openai/{evil}", f"{elsewhere.host}/v1", f"http://{elsewhere.host}", "//" + elsewhere.host):
        resp = _post(live.url, api_key, {"model": model, "messages": HELLO})
        assert resp.status_code in (200, 400), resp.text             # a model name, never a place
    assert elsewhere.hits == []
    configured = ("/openai/v1/", "/anthropic/v1/", "/gemini/v1beta/")
    assert double.requests and all(r.path.startswith(configured) for r in double.requests)


# --- the client's Authorization never reaches an upstream ----------------------------------------------------------

def test_the_clients_authorization_and_other_credentials_never_reach_an_upstream(live, api_key, double):
    client_headers = {"Cookie": "switchyard_admin=client-cookie-value", "X-Api-Key": "client-x-api-key",
                      "Api-Key": "client-api-key", "X-Goog-Api-Key": "client-goog-key",
                      "Proxy-Authorization": "Basic client-proxy-auth", "OpenAI-Organization": "client-org"}
    bodies = [{"model": m, "messages": HELLO, "stream": s}
              for m in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash")
              for s in (False, True)]
    for body in bodies:
        assert _post(live.url, api_key, body, headers=client_headers).status_code == 200
    assert requests.post(f"{live.url}/v1/responses", timeout=20, json={"model": "openai/gpt-4o-mini", "input": "hi"},
                         headers={"Authorization": f"Bearer {api_key}", **client_headers}).status_code == 200
    assert len(double.requests) == len(bodies) + 1
    for r in double.requests:
        values = " ".join(f"{k}: {v}" for k, v in r.headers.items())
        assert api_key not in values and "client-" not in values, values
        lower = {k.lower(): v for k, v in r.headers.items()}
        assert "cookie" not in lower and "proxy-authorization" not in lower
        if r.path.startswith("/openai/"):
            assert lower["authorization"] == "Bearer test-openai-key"
        else:                                            # Anthropic and Gemini take their own header, never this one
            assert "authorization" not in lower
            assert lower.get("x-api-key", lower.get("x-goog-api-key")) in ("test-anthropic-key", "test-gemini-key")


# --- CORS: off unless configured ------------------------------------------------------------------------------------

def _cors_headers(resp) -> dict:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def test_cors_is_off_by_default(app, api_key):
    client = app.test_client()
    origin = {"Origin": "https://app.example.com"}
    preflight = client.options("/v1/chat/completions", headers={**origin, "Access-Control-Request-Method": "POST",
                                                                "Access-Control-Request-Headers": "authorization"})
    assert _cors_headers(preflight) == {}
    answer = client.get("/v1/models", headers={**origin, "Authorization": f"Bearer {api_key}"})
    assert answer.status_code == 200 and _cors_headers(answer) == {}


@pytest.fixture(scope="module")
def cors_app(services):
    app = create_app({"DATABASE_URL": services.settings.DATABASE_URL, "TESTING": True, "CATALOG_REFRESH_S": 0,
                      "INSTANCE_DIR": services.settings.INSTANCE_DIR, "REDIS_PREFIX": services.settings.REDIS_PREFIX,
                      "CORS_ORIGINS": "https://app.example.com, http://localhost:3000"})
    yield app
    app.extensions["switchyard"].shutdown()


def test_cors_answers_only_the_configured_origins_and_only_on_v1(cors_app, api_key):
    client = cors_app.test_client()
    auth = {"Authorization": f"Bearer {api_key}"}
    ok = client.get("/v1/models", headers={**auth, "Origin": "https://app.example.com"})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "x-gateway-cost-usd" in ok.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    preflight = client.options("/v1/chat/completions", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    other = client.get("/v1/models", headers={**auth, "Origin": "https://evil.example.com"})
    assert other.status_code == 200 and _cors_headers(other) == {}
    for path in ("/admin/login/", "/healthz", "/metrics"):
        assert _cors_headers(client.get(path, headers={"Origin": "https://app.example.com"})) == {}


# --- admin forms need a session and a CSRF token --------------------------------------------------------------------

SECURITY_USER, SECURITY_PASSWORD = "security-tests", "security tests password 42"


@pytest.fixture(scope="module")
def security_user(app):
    from gateway.admin.users import AdminUserError, create_admin_user
    try:
        create_admin_user(app.extensions["switchyard"].sessionmaker, SECURITY_USER, SECURITY_PASSWORD)
    except AdminUserError:                  # made by an earlier module of this run
        pass
    return SECURITY_USER


@pytest.fixture
def admin(app, security_user) -> AdminClient:
    client = AdminClient(app)
    assert client.login(username=SECURITY_USER, password=SECURITY_PASSWORD).status_code == 302
    return client


@pytest.fixture
def admin_rows(services):
    """A provider, a model, a route and a key of this test's own, removed after it."""
    yield from _rows(services)


def _rows(services):
    with services.sessionmaker() as s, s.begin():
        p = Provider(name=f"{PREFIX}sec", type="openai", base_url="http://127.0.0.1:9/v1", enabled=True)
        m = ModelPrice(slug=f"{PREFIX}sec/model", provider=f"{PREFIX}sec", upstream="model", price_version=1)
        r = Route(alias=f"{PREFIX}sec", retries=0, timeout_ms=5000, enabled=True)
        s.add_all([p, m, r])
        s.flush()
        ids = {"providers": p.id, "models": m.id, "routes": r.id}
    _, secret = create_key(services.sessionmaker, f"{PREFIX}sec-key")
    with services.sessionmaker() as s:
        ids["keys"] = s.scalar(select(ApiKey.id).where(ApiKey.name == f"{PREFIX}sec-key"))
    yield ids
    with services.sessionmaker() as s, s.begin():
        for model, key in ((Provider, "providers"), (ModelPrice, "models"), (Route, "routes")):
            row = s.get(model, ids[key])
            if row is not None:
                s.delete(row)
        s.query(Provider).filter(Provider.name.like(f"{PREFIX}%")).delete(synchronize_session=False)
    services.catalog.refresh()


def _posts(ids: dict) -> list[tuple[str, dict]]:
    return [("/admin/providers/new/", {"name": f"{PREFIX}new", "type": "openai"}),
            (f"/admin/providers/edit/?id={ids['providers']}", {"name": f"{PREFIX}renamed", "type": "openai"}),
            ("/admin/providers/delete/", {"id": ids["providers"]}),
            ("/admin/models/new/", {"slug": f"{PREFIX}x/y", "upstream": "y"}),
            ("/admin/models/delete/", {"id": ids["models"]}),
            ("/admin/routes/new/", {"alias": f"{PREFIX}new-route"}),
            ("/admin/routes/delete/", {"id": ids["routes"]}),
            ("/admin/keys/action/", {"action": "revoke", "rowid": ids["keys"]}),
            (f"/admin/keys/edit/?id={ids['keys']}", {"name": f"{PREFIX}renamed-key"})]


def _unchanged(services, ids) -> None:
    with services.sessionmaker() as s:
        assert s.get(Provider, ids["providers"]).name == f"{PREFIX}sec"
        assert s.get(ModelPrice, ids["models"]) is not None and s.get(Route, ids["routes"]) is not None
        key = s.get(ApiKey, ids["keys"])
        assert key.revoked_at is None and key.name == f"{PREFIX}sec-key"
        assert s.scalar(select(Provider).where(Provider.name == f"{PREFIX}new")) is None


def test_every_admin_form_refuses_a_post_without_the_csrf_token(admin, services, admin_rows):
    for path, data in _posts(admin_rows):
        resp = admin.post(path, data=data, csrf=False)
        assert resp.status_code == 400 and "security token" in resp.text, path
        assert admin.post(path, data={**data, "csrf_token": "forged"}, csrf=False).status_code == 400, path
    _unchanged(services, admin_rows)


def test_every_admin_form_refuses_a_post_without_a_session(app, services, security_user, admin_rows):
    anon = app.test_client()
    token = csrf_of(anon.get("/admin/login/").text)                     # a real token, but nobody signed in
    for path, data in _posts(admin_rows):
        resp = anon.post(path, data={**data, "csrf_token": token})
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/login/"), path
    _unchanged(services, admin_rows)


def test_a_session_cookie_signed_with_another_secret_is_no_session(app, admin):
    cookie = admin.http.get_cookie("switchyard_admin", path="/admin")
    contents = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert contents                                                     # a signed-in session's contents ...
    other = Flask("other")
    other.secret_key = "not the deployment's secret"
    forged = other.session_interface.get_signing_serializer(other).dumps(contents)
    client = app.test_client()
    client.set_cookie("switchyard_admin", forged, path="/admin")
    assert client.get("/admin/keys/").status_code == 302                # ... signed by someone else: refused
    client.set_cookie("switchyard_admin", cookie.value, path="/admin")
    assert client.get("/admin/keys/").status_code == 200                # the real one works (the test is sound)


# --- provider messages scrubbed of the provider key ------------------------------------------------------------------

@pytest.mark.parametrize("quoted", ["test-openai-key", "test-ope**********-key", "test...-key"])
def test_a_provider_message_echoing_its_key_is_scrubbed_in_a_json_answer_and_in_a_stream(live, api_key, double,
                                                                                           services, quoted):
    double.enqueue("gpt-4o-mini", {"status": 400, "body": {"error": {
        "message": f"Invalid 'messages' (sent with {quoted})", "type": "invalid_request_error", "param": None}}})
    resp = _post(live.url, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO})
    err = resp.json()["error"]
    assert resp.status_code == 400 and err["code"] == "invalid_request"
    assert err["message"].startswith("Invalid 'messages'") and quoted not in err["message"]
    assert "[redacted]" in err["message"]

    stream, streamed = _stream_failing_midway(live.url, api_key, double, f"overloaded, key {quoted}")
    events = [json.loads(line[6:]) for line in streamed.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    errors = [e["error"] for e in events if "error" in e]
    assert stream.status_code == 200 and len(errors) == 1, streamed   # the stream had begun: an error event
    assert quoted not in errors[0]["message"] and "[redacted]" in errors[0]["message"]
    assert quoted not in streamed
    for request_id in (resp.headers["x-request-id"], stream.headers["x-request-id"]):
        row = _row(services, request_id)
        assert quoted not in (row.error_message or "") and "[redacted]" in row.error_message


def _stream_failing_midway(url: str, key: str, double, message: str) -> tuple[requests.Response, str]:
    """A stream whose upstream sends its first chunks, waits until the client has read one, then an error event
    quoting `message`: (the response, everything the client read)."""
    pieces = openai_stream(openai_completion("gpt-4o-mini", "one two three"))
    first_read = threading.Event()
    double.enqueue("gpt-4o-mini", {"stream": pieces[:2] + [first_read, b"data: " + orjson.dumps(
        {"error": {"message": message, "type": "server_error"}}) + b"\n\n"]})
    lines = []
    with requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, stream=True,
                       timeout=20, json={"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True}) as resp:
        for line in resp.iter_lines():
            lines.append(line.decode())
            if line.startswith(b"data: "):
                first_read.set()
    return resp, "\n".join(lines)


def _row(services, request_id: str) -> RequestLog:
    from tests.support.logs import log_row
    return log_row(services, request_id)
