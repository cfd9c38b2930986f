"""The keys and teams pages: the secret shown once on a no-store page, rotation with a grace period, limits and
budgets edited under the same rules as the CLI, spend this period and last use on the list."""
import hashlib
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from models import ApiKey, SpendCounter, Team
from tests.gateway.admin.conftest import PREFIX
from tests.support.logs import log_row

HELLO = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


def _name(kind):
    return f"{PREFIX}{kind}-{uuid.uuid4().hex[:8]}"


def _secret_of(html):
    return html.split('id="new-key-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]


def _bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def _row(services, model, *where):
    with services.sessionmaker() as s:
        return s.scalar(select(model).where(*where))


def _create(admin, name, **fields):
    data = {"name": name, "budget_period": "month"} | fields
    return admin.post("/admin/keys/new/", data=data)


def test_the_secret_is_the_answer_to_the_post_sent_no_store_and_never_in_the_session(admin, services):
    resp = _create(admin, _name("key"))
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    secret = _secret_of(resp.text)
    assert secret.startswith("sk-sy-")
    cookie = resp.headers.get("Set-Cookie", "")
    assert secret not in cookie                       # not flashed into the (signed, readable) session cookie
    for page in ("/admin/", "/admin/keys/"):          # and nowhere after
        assert secret not in admin.get(page).text
    row = _row(services, ApiKey, ApiKey.key_hash == hashlib.sha256(secret.encode()).hexdigest())
    assert row is not None and row.budget_period == "month"


def test_a_refused_form_shows_no_secret_and_makes_no_key(admin, services):
    name = _name("bad")
    resp = _create(admin, name, tpm_limit="0")
    assert resp.status_code == 200 and 'id="new-key-secret"' not in resp.text
    assert _row(services, ApiKey, ApiKey.name == name) is None


def test_rotate_with_a_grace_period_then_without(admin, services, double):
    secret = _secret_of(_create(admin, _name("rot")).text)
    row = _row(services, ApiKey, ApiKey.key_hash == hashlib.sha256(secret.encode()).hexdigest())
    details = admin.get(f"/admin/keys/details/?id={row.id}").text
    assert 'id="rotate-form"' in details and secret not in details
    resp = admin.post("/admin/keys/rotate/", data={"id": str(row.id), "grace_seconds": "3600"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    new = _secret_of(resp.text)
    assert new != secret and "keeps working until" in resp.text
    for s in (secret, new):                           # both work during the grace period
        r = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(s))
        assert r.status_code == 200, r.text
        r.close()
    after = admin.post("/admin/keys/rotate/", data={"id": str(row.id), "grace_seconds": "0"})
    newest = _secret_of(after.text)
    old = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(new))
    assert old.status_code == 401 and old.json["error"]["code"] == "auth_invalid"
    ok = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(newest))
    assert ok.status_code == 200
    ok.close()


def test_rotating_needs_a_grace_and_a_live_key(admin, services):
    secret = _secret_of(_create(admin, _name("rot")).text)
    row = _row(services, ApiKey, ApiKey.key_hash == hashlib.sha256(secret.encode()).hexdigest())
    resp = admin.post("/admin/keys/rotate/", data={"id": str(row.id)}, follow_redirects=True)
    assert "Not rotated: Choose how long" in resp.text
    admin.post("/admin/keys/action/", data={"action": "revoke", "rowid": str(row.id), "url": "/admin/keys/"})
    resp = admin.post("/admin/keys/rotate/", data={"id": str(row.id), "grace_seconds": "0"}, follow_redirects=True)
    assert "is revoked" in resp.text and 'id="new-key-secret"' not in resp.text
    assert _row(services, ApiKey, ApiKey.id == row.id).key_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_edit_limits_budget_models_and_expiry_take_effect(admin, services, double):
    name = _name("edit")
    secret = _secret_of(_create(admin, name).text)
    row = _row(services, ApiKey, ApiKey.name == name)
    soon = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    resp = admin.post(f"/admin/keys/edit/?id={row.id}", data={
        "name": name, "rpm_limit": "7", "tpm_limit": "9000", "budget_usd": "2.5", "budget_period": "day",
        "request_quota": "100", "allowed_models": "openai/* , smart", "expires_at": soon, "enabled": "y"},
        follow_redirects=True)
    assert resp.status_code == 200
    row = _row(services, ApiKey, ApiKey.id == row.id)
    assert (row.rpm_limit, row.tpm_limit, row.budget_usd, row.budget_period, row.request_quota,
            row.allowed_models) == (7, 9000, Decimal("2.5"), "day", 100, "openai/*, smart")
    refused = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret))
    assert refused.status_code == 401 and "expired" in refused.json["error"]["message"]
    listing = admin.get(f"/admin/keys/?search={row.prefix}").text
    assert "7 rpm, 9,000 tpm, 100 req/month" in listing and "expired" in listing and "of $2.5" in listing


def test_the_list_shows_spend_this_period_and_last_use_for_its_page(admin, services, double):
    name = _name("spend")
    secret = _secret_of(_create(admin, name, budget_usd="10").text)
    r = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret))
    request_id = r.headers["x-request-id"]
    r.close()
    logged = log_row(services, request_id)
    row = _row(services, ApiKey, ApiKey.name == name)
    deadline = time.time() + 5
    while _row(services, SpendCounter, SpendCounter.subject == f"key:{row.id}") is None and time.time() < deadline:
        time.sleep(0.05)
    page = admin.get(f"/admin/keys/?search={row.prefix}").text
    assert logged.created_at.strftime("%Y-%m-%d %H:%M") in page           # last used
    spent = Decimal(str(logged.cost_usd)).quantize(Decimal("0.0001")).normalize()
    assert f"${format(spent, 'f')}" in page and "of $10" in page
    assert "never" in admin.get(f"/admin/keys/?search={_secret_of(_create(admin, _name('idle')).text)[:12]}").text


def test_the_keys_list_runs_no_count_and_searches_the_prefix_index(admin, services):
    statements = []
    from sqlalchemy import event
    listen = lambda conn, cursor, stmt, *a: statements.append(stmt)          # noqa: E731
    event.listen(services.engine, "before_cursor_execute", listen)
    try:
        assert admin.get("/admin/keys/?search=sk-sy-").status_code == 200
    finally:
        event.remove(services.engine, "before_cursor_execute", listen)
    joined = "\n".join(statements).lower()
    assert "count(" not in joined and " like " not in joined


def test_teams_shared_limits_and_budget(admin, services, double):
    team = _name("team")
    resp = admin.post("/admin/teams/new/", data={"name": team, "rpm_limit": "2", "budget_usd": "5",
                                                 "budget_period": "month"}, follow_redirects=True)
    assert resp.status_code == 200
    row = _row(services, Team, Team.name == team)
    assert (row.rpm_limit, row.budget_usd, row.budget_period) == (2, Decimal("5"), "month")
    bad = admin.post("/admin/teams/new/", data={"name": _name("team"), "tpm_limit": "0", "budget_period": "month"})
    assert "Number must be at least 1" in bad.text or "must be 1 or more" in bad.text
    secret = _secret_of(_create(admin, _name("member"), team=str(row.id)).text)
    key = _row(services, ApiKey, ApiKey.key_hash == hashlib.sha256(secret.encode()).hexdigest())
    assert key.team_id == row.id
    codes = []
    for _ in range(3):                                  # the team's 2 rpm holds for its key
        r = admin.http.post("/v1/chat/completions", json=HELLO, headers=_bearer(secret))
        codes.append(r.status_code)
        r.close()
    assert codes == [200, 200, 429]
    listing = admin.get(f"/admin/teams/?search={team}").text
    assert "2 rpm" in listing and "of $5" in listing and 'col-keys">1<' in re.sub(r"\s+", "", listing)
