"""The admin panel through Flask's test client: login and CSRF, keys, providers, prices, routes, logs, the CLI."""
import hashlib
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app import create_app
from gateway.admin import session_secret, users
from gateway.secrets import load_or_create_key
from models import AdminUser, ApiKey, ModelPrice, Provider, RequestAttempt, RequestLog, Route
from tests.support.logs import log_row
from tests.gateway.admin.conftest import (ADMIN_PASSWORD, ADMIN_USER, PREFIX, PRODUCTION_GENERATE_PASSWORD_HASH,
                                         TEST_HASH_METHOD, AdminClient, csrf_of)

HELLO = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
ADMIN_PAGES = ("/admin/", "/admin/keys/", "/admin/keys/new/", "/admin/keys/details/?id=1", "/admin/teams/",
               "/admin/teams/new/", "/admin/logs/export.csv?from=2026-01-01&to=2026-01-02", "/admin/providers/",
               "/admin/providers/new/", "/admin/models/", "/admin/models/edit/?id=1", "/admin/routes/",
               "/admin/routes/new/", "/admin/logs/", "/admin/logs/details/?id=1")


def _name(kind: str) -> str:
    return f"{PREFIX}{kind}-{uuid.uuid4().hex[:8]}"


def _one(services, stmt):
    with services.sessionmaker() as s:
        return s.scalar(stmt)


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


# --- login, CSRF, sessions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_every_admin_page_redirects_to_the_login_page(app, path):
    resp = app.test_client().get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/admin/login/?next=")


def test_unauthenticated_post_changes_nothing(app, services, admin_user):
    anon = app.test_client()
    token = csrf_of(anon.get("/admin/login/").text)
    name = _name("anon-key")
    resp = anon.post("/admin/keys/new/", data={"name": name, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/login/")
    assert _one(services, select(func.count()).select_from(ApiKey).where(ApiKey.name == name)) == 0


def test_sign_in_with_the_right_password_only(app, admin_user):
    client = AdminClient(app)
    wrong = client.login(password="not the password")
    assert wrong.status_code == 401 and "Unknown username or wrong password" in wrong.text
    assert client.get("/admin/keys/").status_code == 302
    nobody = client.login(username="nobody-at-all")
    assert nobody.status_code == 401
    ok = client.login(next_url="/admin/routes/")
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/routes/"
    page = client.get("/admin/keys/")
    assert page.status_code == 200 and ADMIN_USER in page.text and "Sign out" in page.text


def test_login_never_redirects_off_the_panel(app, admin_user):
    for target in ("https://evil.example/", "//evil.example/admin/", "/v1/models"):
        resp = AdminClient(app).login(next_url=target)
        assert resp.status_code == 302 and resp.headers["Location"] == "/admin/"


def test_login_form_needs_its_csrf_token(app, admin_user):
    client = app.test_client()
    client.get("/admin/login/")
    resp = client.post("/admin/login/", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "security token" in resp.text
    assert client.get("/admin/keys/").status_code == 302          # not signed in
    forged = client.post("/admin/login/", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD,
                                                "csrf_token": "forged"})
    assert forged.status_code == 400


def test_admin_forms_need_the_csrf_token(admin, services):
    name = _name("csrf-key")
    resp = admin.post("/admin/keys/new/", data={"name": name}, csrf=False)
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    other = AdminClient(admin.app)                                 # another session's token does not do
    other.login()
    assert admin.post("/admin/keys/new/", data={"name": name, "csrf_token": other.token}).status_code == 400
    assert _one(services, select(func.count()).select_from(ApiKey).where(ApiKey.name == name)) == 0


def test_sign_out(admin):
    assert admin.get("/admin/logout/").status_code == 200          # GET asks; it does not sign out
    assert admin.get("/admin/keys/").status_code == 200
    assert admin.post("/admin/logout/", csrf=False).status_code == 400
    resp = admin.post("/admin/logout/")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/login/"
    assert admin.get("/admin/keys/").status_code == 302


def test_a_new_password_ends_the_old_sessions(app, services):
    runner = app.test_cli_runner()
    name, first, second = _name("user"), "first password 1", "second password 2"
    assert runner.invoke(args=["admin", "create-user", "--username", name, "--password", first]).exit_code == 0
    client = AdminClient(app)
    assert client.login(username=name, password=first).status_code == 302
    assert client.get("/admin/").status_code == 200
    result = runner.invoke(args=["admin", "set-password", "--username", name, "--password", second])
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302
    assert client.login(username=name, password=second).status_code == 302


def test_production_hashes_with_werkzeugs_default_cost(app, services, monkeypatch):
    """These tests hash with a lower cost (conftest.TEST_HASH_METHOD); the module itself uses werkzeug's default."""
    monkeypatch.setattr(users, "generate_password_hash", PRODUCTION_GENERATE_PASSWORD_HASH)
    runner = app.test_cli_runner()
    name, password = _name("cost"), "a production password"
    assert runner.invoke(args=["admin", "create-user", "--username", name, "--password", password]).exit_code == 0
    row = _one(services, select(AdminUser).where(AdminUser.username == name))
    method = row.password_hash.split("$", 1)[0]
    assert method == generate_password_hash("anything").split("$", 1)[0] != TEST_HASH_METHOD
    assert check_password_hash(row.password_hash, password)


def test_cli_stores_a_salted_hash_only(app, services, admin_user):
    row = _one(services, select(AdminUser).where(AdminUser.username == ADMIN_USER))
    assert ADMIN_PASSWORD not in row.password_hash and check_password_hash(row.password_hash, ADMIN_PASSWORD)
    assert row.password_hash.startswith(("scrypt:", "pbkdf2:"))
    runner = app.test_cli_runner()
    again = runner.invoke(args=["admin", "create-user", "--username", ADMIN_USER, "--password", "whatever123"])
    assert again.exit_code != 0 and "exists already" in again.output
    short = runner.invoke(args=["admin", "create-user", "--username", _name("short"), "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output


def test_the_session_secret_is_derived_from_the_fernet_key(app, services, tmp_path):
    settings = services.settings
    assert app.secret_key == session_secret(load_or_create_key(settings.SECRET_KEY, settings.INSTANCE_DIR))
    cfg = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_DIR": str(tmp_path / "inst"),
           "CATALOG_REFRESH_S": 0}
    one, two = create_app(cfg), create_app(cfg)          # two workers of one deployment
    assert one.secret_key == two.secret_key != app.secret_key
    assert one.secret_key != (tmp_path / "inst" / "secret.key").read_text().strip()


# --- the API is not touched ----------------------------------------------------------------------------------------

def test_v1_has_no_csrf_no_cookie_and_json_errors(admin, api_key, double):
    http = admin.http                                   # this client holds an admin session cookie
    resp = http.post("/v1/chat/completions", json=HELLO, headers=_bearer(api_key))
    assert resp.status_code == 200 and resp.is_json
    assert "Set-Cookie" not in resp.headers and "Cookie" not in resp.headers.get("Vary", "")
    models = http.get("/v1/models", headers=_bearer(api_key))
    assert models.status_code == 200 and "Set-Cookie" not in models.headers
    missing = http.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert http.post("/v1/chat/completions", json=HELLO).json["error"]["code"] == "auth_missing"
    assert admin.get("/admin/no-such-page").status_code == 404


# --- keys ----------------------------------------------------------------------------------------------------------

def _create_key(admin, name, **fields):
    resp = admin.post("/admin/keys/new/", data={"name": name, **fields}, follow_redirects=True)
    assert resp.status_code == 200
    return resp


def test_creating_a_key_shows_its_secret_once_and_stores_its_hash(admin, services, double):
    name = _name("key")
    page = _create_key(admin, name, rpm_limit="60", allowed_models="openai/gpt-4o-mini ,  smart,")
    secret = page.text.split('id="new-key-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert secret.startswith("sk-sy-") and len(secret) > 30
    row = _one(services, select(ApiKey).where(ApiKey.name == name))
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and row.prefix == secret[:12]
    assert (row.rpm_limit, row.allowed_models, row.enabled, row.revoked_at) == (60, "openai/gpt-4o-mini, smart",
                                                                              True, None)
    assert all(secret not in str(getattr(row, c.key)) for c in ApiKey.__table__.columns)
    for path in ("/admin/keys/", f"/admin/keys/details/?id={row.id}", f"/admin/keys/edit/?id={row.id}"):
        html = admin.get(path).text
        assert secret not in html and row.key_hash not in html           # shown once; the hash never
    assert admin.get("/admin/keys/").text.count(row.prefix) == 1
    assert "key_hash" not in admin.get("/admin/keys/new/").text
    resp = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret))
    assert resp.status_code == 200


def test_key_form_validation(admin, services):
    page = _create_key(admin, "", rpm_limit="0")
    assert "This field is required." in page.text
    assert _one(services, select(func.count()).select_from(ApiKey).where(ApiKey.name == "")) == 0
    bad = _create_key(admin, _name("key"), allowed_models="openai/gpt 4o")
    assert "is not a model name or glob" in bad.text


def test_revoking_a_key_refuses_it_at_once(admin, services, double):
    name = _name("revoke")
    page = _create_key(admin, name)
    secret = page.text.split('id="new-key-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    api = admin.http
    assert api.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret)).status_code == 200  # now cached
    key_id = _one(services, select(ApiKey.id).where(ApiKey.name == name))
    resp = admin.post("/admin/keys/action/", data={"action": "revoke", "rowid": str(key_id), "url": "/admin/keys/"},
                      follow_redirects=True)
    assert resp.status_code == 200 and "Revoked 1 key(s)" in resp.text
    row = _one(services, select(ApiKey).where(ApiKey.id == key_id))
    assert row.revoked_at is not None and row.enabled is False
    refused = api.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret))
    assert refused.status_code == 401 and refused.json["error"]["code"] == "auth_invalid"
    assert admin.post("/admin/keys/delete/", data={"id": str(key_id)}).status_code in (302, 404, 405)
    assert _one(services, select(func.count()).select_from(ApiKey).where(ApiKey.id == key_id)) == 1


# --- providers -----------------------------------------------------------------------------------------------------

def _provider_form(name, **over):
    return {"name": name, "type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "", "api_key": "",
            "responses": "", "enabled": "y"} | over


def test_provider_key_is_stored_encrypted_and_never_shown(admin, services):
    name, plain = _name("prov"), "sk-upstream-" + uuid.uuid4().hex
    resp = admin.post("/admin/providers/new/", data=_provider_form(name, api_key=plain), follow_redirects=True)
    assert resp.status_code == 200 and plain not in resp.text
    row = _one(services, select(Provider).where(Provider.name == name))
    assert row.api_key_encrypted and plain not in row.api_key_encrypted
    assert services.box.decrypt(row.api_key_encrypted) == plain
    assert services.catalog.snapshot.providers[name].api_key == plain            # in effect at once
    for path in ("/admin/providers/", f"/admin/providers/details/?id={row.id}", f"/admin/providers/edit/?id={row.id}"):
        html = admin.get(path).text
        assert plain not in html and row.api_key_encrypted not in html
    assert "stored (encrypted)" in admin.get("/admin/providers/").text
    edit = f"/admin/providers/edit/?id={row.id}"
    assert admin.post(edit, data=_provider_form(name, base_url="http://127.0.0.1:8/v1")).status_code == 302
    kept = _one(services, select(Provider).where(Provider.id == row.id))
    assert kept.api_key_encrypted == row.api_key_encrypted and kept.base_url == "http://127.0.0.1:8/v1"
    assert services.catalog.snapshot.providers[name].base_url == "http://127.0.0.1:8/v1"
    admin.post(edit, data=_provider_form(name, api_key="sk-second-value"))
    assert services.box.decrypt(_one(services, select(Provider.api_key_encrypted).where(Provider.id == row.id))) \
        == "sk-second-value"
    admin.post(edit, data=_provider_form(name, clear_api_key="y", api_key_env="ADM_TEST_KEY"))
    cleared = _one(services, select(Provider).where(Provider.id == row.id))
    assert cleared.api_key_encrypted is None and cleared.api_key_env == "ADM_TEST_KEY"


def test_a_providers_responses_mode_is_set_in_the_panel(admin, services):
    name = _name("prov")
    assert admin.post("/admin/providers/new/", data=_provider_form(name)).status_code == 302
    row = _one(services, select(Provider).where(Provider.name == name))
    assert row.responses is None and services.catalog.snapshot.providers[name].responses == "translate"
    admin.post(f"/admin/providers/edit/?id={row.id}", data=_provider_form(name, responses="native"))
    assert services.catalog.snapshot.providers[name].responses == "native"


def test_provider_form_validation(admin, services):
    for bad, message in ((_provider_form("Bad Name"), "Lowercase letters"),
                         (_provider_form(_name("prov"), type="cohere"), "Not a valid choice"),
                         (_provider_form(_name("prov"), base_url="not a url"), "Invalid URL"),
                         (_provider_form(_name("prov"), api_key="sk-x", api_key_env="X_KEY"), "not both"),
                         (_provider_form(_name("prov"), type="anthropic", responses="native"), "Only a provider of "
                                                                                               "type openai")):
        resp = admin.post("/admin/providers/new/", data=bad, follow_redirects=True)
        assert resp.status_code == 200 and message in resp.text, message
        assert _one(services, select(func.count()).select_from(Provider).where(Provider.name == bad["name"])) == 0


# --- models and prices ---------------------------------------------------------------------------------------------

def _model_form(slug, **over):
    return {"slug": slug, "upstream": "", "input_per_mtok": "1.25", "output_per_mtok": "5", "cached_input_per_mtok": "",
            "cache_write_per_mtok": "", "prices_as_of": "2026-11-22", "context_window": "128000", "max_output": "",
            "capabilities": "", "replacement": "", "enabled": "y"} | over


def test_price_edit_bumps_the_price_version(admin, services):
    slug = f"{_name('models')}/chat-1"
    resp = admin.post("/admin/models/new/", data=_model_form(slug, capabilities='{"reasoning": true}'))
    assert resp.status_code == 302, resp.text
    row = _one(services, select(ModelPrice).where(ModelPrice.slug == slug))
    assert (row.provider, row.upstream, row.price_version) == (slug.split("/")[0], "chat-1", 1)
    assert row.capabilities == '{"reasoning": true}'
    edit = f"/admin/models/edit/?id={row.id}"
    assert '"reasoning": true' in admin.get(edit).text
    admin.post(edit, data=_model_form(slug, context_window="200000", input_per_mtok="1.250000",
                                      capabilities='{"reasoning": true}'))
    same = _one(services, select(ModelPrice).where(ModelPrice.id == row.id))
    assert (same.context_window, same.price_version) == (200000, 1)           # no price changed
    admin.post(edit, data=_model_form(slug, input_per_mtok="2", capabilities='{"reasoning": true}'))
    bumped = _one(services, select(ModelPrice).where(ModelPrice.id == row.id))
    assert (bumped.input_per_mtok, bumped.price_version) == (Decimal("2"), 2)
    price = services.catalog.snapshot.models[slug].price
    assert (price.input, price.version) == (Decimal("2"), 2)                 # the catalog prices with it now
    admin.post(edit, data=_model_form(slug, input_per_mtok="2", cached_input_per_mtok="0.5"))
    assert _one(services, select(ModelPrice.price_version).where(ModelPrice.id == row.id)) == 3


def test_model_form_validation(admin, services):
    for bad, message in ((_model_form("no-slash"), "Must be provider/model."),
                         (_model_form(f"{PREFIX}m/x", capabilities="{not json"), "Not valid JSON"),
                         (_model_form(f"{PREFIX}m/y", capabilities="[1, 2]"), "Must be a JSON object"),
                         (_model_form(f"{PREFIX}m/z", input_per_mtok="-1"), "Number must be at least 0")):
        resp = admin.post("/admin/models/new/", data=bad)
        assert resp.status_code == 200 and message in resp.text, message
        assert _one(services, select(func.count()).select_from(ModelPrice).where(ModelPrice.slug == bad["slug"])) == 0


# --- routes --------------------------------------------------------------------------------------------------------

def _route_form(alias, targets=(("openai/gpt-4o-mini", ""),), **over):
    data = {"alias": alias, "description": "made by a test", "retries": "1", "timeout_ms": "30000", "enabled": "y"}
    for i, (model, overrides) in enumerate(targets):
        data |= {f"targets-{i}-model": model, f"targets-{i}-position": str(i), f"targets-{i}-weight": "1",
                 f"targets-{i}-priority": "", f"targets-{i}-overrides": overrides}
    return data | over


@pytest.mark.parametrize("alias", ["Upper", "-leading-dash", "has space", "a" * 64, "dot.ted", ""])
def test_route_alias_is_validated_like_the_config_file(admin, services, alias):
    resp = admin.post("/admin/routes/new/", data=_route_form(alias))
    assert resp.status_code == 200
    assert "Must be 1-63 lowercase letters" in resp.text or "This field is required." in resp.text
    assert _one(services, select(func.count()).select_from(Route).where(Route.alias == alias)) == 0


@pytest.mark.parametrize("over, message", [
    ({"retries": "6"}, "Number must be between 0 and 5"),
    ({"timeout_ms": "999"}, "Number must be between 1000 and 120000"),
    ({"targets-0-overrides": "max_tokens=5"}, "Not valid JSON"),
])
def test_route_fields_are_validated(admin, services, over, message):
    alias = _name("route")
    resp = admin.post("/admin/routes/new/", data=_route_form(alias, **over))
    assert resp.status_code == 200 and message in resp.text
    assert _one(services, select(func.count()).select_from(Route).where(Route.alias == alias)) == 0


def test_route_needs_a_target(admin, services):
    alias = _name("route")
    resp = admin.post("/admin/routes/new/", data=_route_form(alias, targets=()), follow_redirects=True)
    assert "A route needs at least one target." in resp.text
    assert _one(services, select(func.count()).select_from(Route).where(Route.alias == alias)) == 0


def test_a_taken_name_is_refused_in_words(admin, services):
    resp = admin.post("/admin/routes/new/", data=_route_form("smart"), follow_redirects=True)
    assert "Already exists." in resp.text and "IntegrityError" not in resp.text
    assert [t.model for t in services.catalog.snapshot.routes["smart"].targets] == ["openai/gpt-4o",
                                                                                  "openai/gpt-4o-mini"]


def test_route_with_targets_takes_effect_at_once(admin, services, api_key, double):
    alias = _name("route")
    data = _route_form(alias, targets=(("openai/gpt-4o", '{"max_tokens": 7}'), ("openai/gpt-4o-mini", "")),
                       retries="0", timeout_ms="5000")
    assert admin.post("/admin/routes/new/", data=data).status_code == 302
    route = services.catalog.snapshot.routes[alias]
    assert [t.model for t in route.targets] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert route.targets[0].overrides == {"max_tokens": 7} and (route.retries, route.timeout_ms) == (0, 5000)
    listing = admin.get("/admin/routes/").text
    assert alias in listing and "openai/gpt-4o →" in listing
    resp = admin.http.post("/v1/chat/completions", json=HELLO | {"model": alias}, headers=_bearer(api_key))
    assert resp.status_code == 200 and resp.headers["x-gateway-provider"] == "openai"
    route_id = _one(services, select(Route.id).where(Route.alias == alias))
    assert admin.post("/admin/routes/delete/", data={"id": str(route_id)}).status_code == 302
    assert alias not in services.catalog.snapshot.routes
    gone = admin.http.post("/v1/chat/completions", json=HELLO | {"model": alias}, headers=_bearer(api_key))
    assert gone.status_code == 400 and gone.json["error"]["code"] == "model_not_supported"


def _target_ids(services, alias):
    with services.sessionmaker() as s:
        route = s.scalar(select(Route).where(Route.alias == alias))
        return route.id, [t.id for t in route.targets]


def test_route_targets_are_reordered_and_deleted_inline(admin, services):
    alias = _name("route")
    three = (("openai/gpt-4o", ""), ("openai/gpt-4o-mini", ""), ("local/x", ""))
    assert admin.post("/admin/routes/new/", data=_route_form(alias, targets=three)).status_code == 302
    route_id, ids = _target_ids(services, alias)
    data = _route_form(alias, targets=three) | {f"targets-{i}-id": str(t) for i, t in enumerate(ids)}
    data |= {"del-targets-0": "on", "targets-2-position": "0"}           # drop the first, move the last up
    assert admin.post(f"/admin/routes/edit/?id={route_id}", data=data).status_code == 302
    targets = services.catalog.snapshot.routes[alias].targets
    assert [(t.model, t.priority) for t in targets] == [("local/x", 0), ("openai/gpt-4o-mini", 1)]
    route_id, ids = _target_ids(services, alias)
    data = _route_form(alias, targets=(("local/x", ""), ("openai/gpt-4o-mini", "")))
    data |= {f"targets-{i}-id": str(t) for i, t in enumerate(ids)} | {f"del-targets-{i}": "on" for i in range(2)}
    resp = admin.post(f"/admin/routes/edit/?id={route_id}", data=data, follow_redirects=True)
    assert "A route needs at least one target." in resp.text
    assert _target_ids(services, alias) == (route_id, ids)                # nothing of it was applied


# --- request logs --------------------------------------------------------------------------------------------------

def test_a_log_row_shows_and_finds_the_clients_request_id_and_trace(admin, services, api_key, double):
    client_id, trace = f"client-{uuid.uuid4().hex[:12]}", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    resp = admin.http.post("/v1/chat/completions", json=HELLO,
                           headers={**_bearer(api_key), "X-Request-Id": client_id, "traceparent": trace})
    assert resp.headers["x-request-id"] == client_id
    resp.close()
    deadline = time.time() + 5
    while True:
        services.log_writer.flush()
        row_id = _one(services, select(RequestLog.id).where(RequestLog.client_request_id == client_id))
        if row_id is not None or time.time() > deadline:
            break
        time.sleep(0.02)
    details = admin.get(f"/admin/logs/details/?id={row_id}").text
    assert client_id in details and trace in details and "Trace context" in details
    found = admin.get(f"/admin/logs/?search={client_id}").text
    assert f"/admin/logs/details/?id={row_id}" in found
    other = admin.get("/admin/logs/?search=client-nobody-sent-this").text       # the search does filter
    assert f"/admin/logs/details/?id={row_id}" not in other


def test_request_logs_are_read_only_with_attempts(admin, services, api_key, double):
    resp = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(api_key))
    request_id = resp.headers["x-request-id"]
    resp.close()                                # as a WSGI server does: the row is handed over on close
    log_row(services, request_id)
    row = _one(services, select(RequestLog).where(RequestLog.request_id == request_id))
    listing = admin.get("/admin/logs/")
    assert listing.status_code == 200 and request_id in listing.text
    assert "/admin/logs/new/" not in listing.text and "/admin/logs/edit/" not in listing.text
    details = admin.get(f"/admin/logs/details/?id={row.id}").text
    assert request_id in details and 'id="attempts-table"' in details and "openai/gpt-4o-mini" in details
    attempts = _one(services, select(func.count()).select_from(RequestAttempt)
                    .where(RequestAttempt.request_id == request_id))
    assert attempts == 1
    for path in ("/admin/logs/new/", f"/admin/logs/edit/?id={row.id}"):
        assert admin.get(path).status_code == 302
    admin.post("/admin/logs/delete/", data={"id": str(row.id)})
    admin.post("/admin/logs/edit/?id=%d" % row.id, data={"status": "500"})
    after = _one(services, select(RequestLog).where(RequestLog.id == row.id))
    assert after is not None and after.status == 200


def test_request_logs_filters(admin, services, api_key, double):
    key_id = _one(services, select(ApiKey.id).where(ApiKey.key_hash == hashlib.sha256(api_key.encode()).hexdigest()))
    resp = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(api_key))
    request_id = resp.headers["x-request-id"]
    bad = admin.http.post("/v1/chat/completions", json=HELLO | {"model": "nowhere/x"}, headers=_bearer(api_key))
    bad_id = bad.headers["x-request-id"]
    resp.close(), bad.close()
    log_row(services, request_id)
    log_row(services, bad_id)
    page = admin.get("/admin/logs/").text
    assert 'id="f-key"' in page and "tests" in page                 # the key column names the key
    by_key = admin.get(f"/admin/logs/?key={key_id}&stream=no").text
    assert request_id in by_key
    assert request_id not in admin.get(f"/admin/logs/?key={key_id}&stream=yes").text
    by_status = admin.get("/admin/logs/?status=400").text
    assert bad_id in by_status and request_id not in by_status
    by_class = admin.get("/admin/logs/?status=4xx").text
    assert bad_id in by_class and request_id not in by_class
    by_error = admin.get("/admin/logs/?error=model_not_supported").text
    assert bad_id in by_error and request_id not in by_error
    by_model = admin.get("/admin/logs/?model=openai/gpt-4o-mini").text
    assert request_id in by_model and bad_id not in by_model
    by_date = admin.get("/admin/logs/?from=2000-01-01&to=2000-01-02").text
    assert request_id not in by_date and "No request matches." in by_date
    bad = admin.get("/admin/logs/?from=yesterday&status=teapot")
    assert bad.status_code == 200
    assert 'data-field="from"' in bad.text and 'data-field="status"' in bad.text


def _sign_in(http, address, username, password="wrong"):
    from tests.gateway.admin.conftest import csrf_of
    page = http.get("/admin/login/", environ_base=address)
    return http.post("/admin/login/", environ_base=address, data={
        "username": username, "password": password, "csrf_token": csrf_of(page.text)})


def _address():
    return {"REMOTE_ADDR": f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


def test_failed_sign_ins_from_one_address_must_wait(app):
    http, address = app.test_client(), _address()
    codes = [_sign_in(http, address, f"nobody-{i}").status_code for i in range(6)]   # a new user each time
    assert codes == [401] * 5 + [429]
    blocked = _sign_in(http, address, "someone-else")
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text
    assert blocked.headers["content-type"].startswith("text/html")


def test_failed_sign_ins_for_one_user_must_wait_from_any_address(app, admin_user):
    http, user = app.test_client(), f"target-{uuid.uuid4().hex[:6]}"
    codes = [_sign_in(http, _address(), user).status_code for _ in range(6)]        # a new address each time
    assert codes == [401] * 5 + [429]
    assert _sign_in(http, _address(), user.upper()).status_code == 429              # the name, in any case
    assert _sign_in(http, _address(), ADMIN_USER, ADMIN_PASSWORD).status_code == 302   # others are not locked out


def test_admin_pages_send_security_headers_and_unknown_admin_urls_are_admin_pages(admin, app):
    page = admin.get("/admin/keys/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    missing = admin.get("/admin/no-such-page/")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "X-Frame-Options" in missing.headers
    api = app.test_client().get("/v1/no-such-endpoint")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"   # the API keeps its JSON
    assert "X-Frame-Options" not in api.headers


def test_the_session_cookie_is_secure_when_asked(tmp_path):
    from app import create_app
    from gateway import db
    url = f"sqlite:///{tmp_path / 'secure.db'}"
    db.upgrade(url)
    secure = create_app({"DATABASE_URL": url, "TESTING": True, "INSTANCE_DIR": str(tmp_path / "i"),
                         "SECRET_KEY": None, "ADMIN_SECURE_COOKIES": True})
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    secure.extensions["switchyard"].shutdown()


def test_boolean_settings_are_read_strictly():
    from gateway.config import Settings
    assert Settings.from_env({"SWITCHYARD_ADMIN_SECURE_COOKIES": "yes"}).ADMIN_SECURE_COOKIES is True
    assert Settings.from_env({"SWITCHYARD_ADMIN_SECURE_COOKIES": "0"}).ADMIN_SECURE_COOKIES is False
    with pytest.raises(ValueError, match="SWITCHYARD_ADMIN_SECURE_COOKIES is true or false"):
        Settings.from_env({"SWITCHYARD_ADMIN_SECURE_COOKIES": "maybe"})


def test_request_id_search_is_exact_or_a_prefix_and_the_home_counts_serving_providers(admin, services, api_key,
                                                                                      live):
    import requests as http
    r = http.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}",
                                                                "X-Request-Id": "client-search-12345"},
                  json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    ours = r.headers["x-request-id"]
    services.log_writer.flush()
    from models import RequestLog
    with services.sessionmaker() as s:
        our_id = s.scalar(select(RequestLog.request_id).where(RequestLog.client_request_id == "client-search-12345"))
    for term in (our_id, our_id[:12], "client-search-12", "client-search-12345"):
        page = admin.get(f"/admin/logs/?search={term}")
        assert page.status_code == 200 and our_id in page.text, term
    assert our_id not in admin.get("/admin/logs/?search=search-12345").text       # not a substring scan
    assert ours == "client-search-12345"
    home = admin.get("/admin/").text
    serving = sum(1 for p in services.catalog.snapshot.providers.values() if p.enabled and p.api_key)
    assert serving >= 4 and "Providers serving" in home


@pytest.mark.parametrize("path", ["/admin/", "/admin/keys/", "/admin/logs/", "/admin/logs/export.csv"])
def test_a_gateway_key_does_not_open_the_panel(app, api_key, path):
    http = app.test_client()
    resp = http.get(path, headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == 302 and "/admin/login/" in resp.headers["Location"]
    posted = http.post("/admin/keys/new/", data={"name": "by-key"}, headers={"Authorization": f"Bearer {api_key}"})
    assert posted.status_code in (302, 400)


def test_route_targets_are_checked_by_the_config_files_rule_every_problem_at_once(admin, services):
    alias = _name("rule")
    resp = admin.post("/admin/routes/new/", data=_route_form(alias, targets=(("nosuchprovider/foo", ""),
                                                                            ("openai/gpt-4o:ultra", ""),
                                                                            ("opnai/gpt-4o", ""))))
    assert resp.status_code == 200
    text = resp.text.replace("&#39;", "'")
    assert "'nosuchprovider/foo' names the provider 'nosuchprovider', which does not exist" in text
    assert "':ultra' is not a reasoning effort" in text and "'opnai'" in text
    assert _one(services, select(func.count()).select_from(Route).where(Route.alias == alias)) == 0
    ok = admin.post("/admin/routes/new/", data=_route_form(alias, targets=(("openai/gpt-4o:high", ""),)))
    assert ok.status_code == 302
    listing = admin.get("/admin/routes/").text
    assert alias in listing and 'badge-success" title="openai/gpt-4o:high">ok' in listing
    route_id = _one(services, select(Route.id).where(Route.alias == alias))
    for page in ("/admin/routes/new/", f"/admin/routes/edit/?id={route_id}"):    # the catalog picker on both
        html = admin.get(page).text
        assert 'id="catalog-models"' in html and '<option value="openai/gpt-4o-mini">' in html
