"""The admin panel in headless Chromium against the live server, the steps an admin takes: sign in and read the
dashboard after real traffic, create a key and read its secret once, rotate a key, add a route with a fallback,
find a request in the logs with its attempts, export CSV, test a provider connection; a form without its CSRF
token is refused. Screenshots of the dashboard, keys, logs and log-detail pages go to $SWITCHYARD_SCREENSHOTS (or
the test's temporary directory), at 1,400 px wide: the width the logs table must fit.

Skipped with the reason when Chromium or its driver is missing, unless CI is set: then they must run.
"""
import csv
import hashlib
import io
import os
import pathlib
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select

from models import ApiKey, RequestLog, Route
from tests.support.logs import log_row
from tests.gateway.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, PREFIX

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--password-store=basic",
                 "--window-size=1400,1000")
HELLO = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (requirements-dev.txt)")
    if missing:
        reason = (f"browser tests need {', '.join(missing)} "
                  f"(Debian: apt-get install chromium chromium-driver)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so they must run", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM             # with the driver's path given, Selenium Manager never runs
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(condition)


def _by_css(driver, css):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, css)


def _all_css(driver, css):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, css)


def _click_and_load(driver, css):
    """Submit with this button and wait for the next page to have loaded (not just to have begun)."""
    from selenium.webdriver.support import expected_conditions as EC
    button = _by_css(driver, css)
    button.click()
    _wait(driver, EC.staleness_of(button))
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def _sign_in(driver, live, next_path="/admin/"):
    driver.get(f"{live.url}{next_path}")
    assert "/admin/login/" in driver.current_url
    _by_css(driver, "#username").send_keys(ADMIN_USER)
    _by_css(driver, "#password").send_keys(ADMIN_PASSWORD)
    _click_and_load(driver, "#sign-in")
    assert "/admin/login/" not in driver.current_url


@pytest.fixture
def signed_in(browser, live, admin_user):
    browser.get(f"{live.url}/admin/")
    if not _all_css(browser, "#signed-in-as"):
        _sign_in(browser, live)
    return browser


def _save(driver):
    _click_and_load(driver, "form.admin-form input[type=submit].btn-primary")


@pytest.fixture(scope="module")
def ui_key(browser, live, admin_user, services):
    """A key made through the browser: (name, the secret read from the page)."""
    browser.get(f"{live.url}/admin/")
    if not _all_css(browser, "#signed-in-as"):
        _sign_in(browser, live)
    name = f"browser key {uuid.uuid4().hex[:6]}"
    browser.get(f"{live.url}/admin/keys/new/")
    _by_css(browser, "#name").send_keys(name)
    _by_css(browser, "#rpm_limit").send_keys("120")
    _save(browser)
    secret = _by_css(browser, "#new-key-secret").text.strip()
    return name, secret


def test_sign_in_is_required_and_returns_to_the_page_asked_for(browser, live, admin_user):
    browser.delete_all_cookies()
    browser.get(f"{live.url}/admin/routes/")
    assert "/admin/login/?next=" in browser.current_url
    _by_css(browser, "#username").send_keys(ADMIN_USER)
    _by_css(browser, "#password").send_keys("wrong password")
    _click_and_load(browser, "#sign-in")
    assert "Unknown username or wrong password" in browser.page_source
    _by_css(browser, "#password").send_keys(ADMIN_PASSWORD)
    _by_css(browser, "#username").clear()
    _by_css(browser, "#username").send_keys(ADMIN_USER)
    _click_and_load(browser, "#sign-in")
    assert browser.current_url.endswith("/admin/routes/")
    assert _by_css(browser, "#signed-in-as").text == ADMIN_USER


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> pathlib.Path:
    where = os.environ.get("SWITCHYARD_SCREENSHOTS")
    path = pathlib.Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _shot(driver, shots, name):
    """The whole page at 1,400 px wide, in one picture (Chromium's own capture beyond the viewport)."""
    import base64
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": min(height, 6000),
                                                                  "deviceScaleFactor": 1, "mobile": False})
    try:
        png = base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True})["data"])
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (shots / f"{name}.png").write_bytes(png)


def _call(live, secret, body=HELLO, **headers):
    resp = requests.post(f"{live.url}/v1/chat/completions", json=body,
                         headers={"Authorization": f"Bearer {secret}", **headers}, timeout=20)
    return resp


def _secret_on_page(driver):
    return _by_css(driver, "#new-key-secret").text.strip()


def _new_key(driver, live, name):
    driver.get(f"{live.url}/admin/keys/new/")
    _by_css(driver, "#name").send_keys(name)
    _save(driver)
    return _secret_on_page(driver)


def test_the_dashboard_after_real_traffic(signed_in, live, services, ui_key, double, shots):
    name, secret = ui_key
    ids = []
    for body in (HELLO, HELLO, HELLO | {"model": "anthropic/claude-sonnet-4-5"},
                 HELLO | {"model": "gemini/gemini-2.5-flash"}, HELLO | {"model": "nowhere/x"}):
        resp = _call(live, secret, body)
        ids.append(resp.headers["x-request-id"])
    for request_id in ids:
        log_row(services, request_id)
    signed_in.get(f"{live.url}/admin/")
    charts = _all_css(signed_in, "svg.chart")
    assert len(charts) == 2
    assert _all_css(signed_in, "svg.chart rect"), "the charts have bars"
    top_keys = _by_css(signed_in, "#top-keys").text
    assert name in top_keys
    assert "openai/gpt-4o-mini" in _by_css(signed_in, "#top-models").text
    assert "ms" in _by_css(signed_in, "#latency").text
    assert _by_css(signed_in, "#window-1").text.startswith("Today")
    legend = _by_css(signed_in, "#spend-legend").text
    assert "openai/gpt-4o-mini" in legend
    signed_in.get(f"{live.url}/admin/?split=provider&days=7")
    assert "anthropic" in _by_css(signed_in, "#spend-legend").text
    signed_in.get(f"{live.url}/admin/")
    width = signed_in.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the dashboard is {width[0]} px wide in a {width[1]} px window"
    _shot(signed_in, shots, "dashboard")


def test_create_a_key_and_read_its_secret_exactly_once(signed_in, live, services, ui_key, shots):
    name, secret = ui_key
    assert secret.startswith("sk-sy-")
    with services.sessionmaker() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and row.rpm_limit == 120
    assert row.budget_period == "month"                         # the form's default, as the CLI's
    other = _new_key(signed_in, live, f"browser once {uuid.uuid4().hex[:6]}")
    _click_and_load(signed_in, "#secret-done")                  # on to the key's page: the secret is gone
    assert other not in signed_in.page_source
    signed_in.back()                                            # the no-store page is not shown again from cache
    assert other not in signed_in.page_source
    signed_in.get(f"{live.url}/admin/keys/")
    assert name in signed_in.page_source and not _all_css(signed_in, "#new-key-secret")
    assert secret not in signed_in.page_source and other not in signed_in.page_source
    _shot(signed_in, shots, "keys")


def test_rotate_a_key_with_a_grace_period(signed_in, live, services, double):
    old = _new_key(signed_in, live, f"browser rotate {uuid.uuid4().hex[:6]}")
    _click_and_load(signed_in, "#secret-done")
    from selenium.webdriver.support.ui import Select
    Select(_by_css(signed_in, "#grace_seconds")).select_by_value("3600")
    _click_and_load(signed_in, "#rotate-key")
    assert "keeps working until" in signed_in.page_source
    new = _secret_on_page(signed_in)
    assert new.startswith("sk-sy-") and new != old
    for secret in (old, new):
        assert _call(live, secret).status_code == 200


def test_add_a_route_with_a_fallback(signed_in, live, services, ui_key, double, shots):
    alias = f"{PREFIX}browser-{uuid.uuid4().hex[:6]}"
    signed_in.get(f"{live.url}/admin/routes/new/")
    _by_css(signed_in, "#alias").send_keys(alias)
    _by_css(signed_in, "#description").send_keys("made in Chromium: gpt-4o, then gpt-4o-mini")
    retries = _by_css(signed_in, "#retries")
    retries.clear()
    retries.send_keys("0")
    for i, model in enumerate(("openai/gpt-4o", "openai/gpt-4o-mini")):
        _by_css(signed_in, "#targets-button").click()
        field = _wait(signed_in, lambda d: _all_css(d, f"input[name='targets-{i}-model']"))[0]
        assert field.get_attribute("list") == "catalog-models"       # the catalog picker
        field.send_keys(model)
    _save(signed_in)
    assert signed_in.current_url.endswith("/admin/routes/"), signed_in.page_source[:2000]
    rows = [r.text for r in _all_css(signed_in, "table.model-list tbody tr") if alias in r.text]
    assert rows and "openai/gpt-4o → openai/gpt-4o-mini" in rows[0] and "ok" in rows[0]
    _shot(signed_in, shots, "routes")
    assert [t.model for t in services.catalog.snapshot.routes[alias].targets] == ["openai/gpt-4o",
                                                                                 "openai/gpt-4o-mini"]
    double.enqueue("gpt-4o-2024-08-06", {"status": 503, "body": {"error": {"message": "overloaded"}}})
    resp = _call(live, ui_key[1], HELLO | {"model": alias})
    assert resp.status_code == 200
    row = log_row(services, resp.headers["x-request-id"])
    assert row.fallback_used and row.attempts == 2 and row.provider == "openai"


def test_a_typo_in_a_route_target_is_refused(signed_in, live, services):
    alias = f"{PREFIX}typo-{uuid.uuid4().hex[:6]}"
    signed_in.get(f"{live.url}/admin/routes/new/")
    _by_css(signed_in, "#alias").send_keys(alias)
    _by_css(signed_in, "#targets-button").click()
    _wait(signed_in, lambda d: _all_css(d, "input[name='targets-0-model']"))[0].send_keys("opnai/gpt-4o")
    _save(signed_in)
    assert "opnai" in signed_in.page_source and "does not exist" in signed_in.page_source
    with services.sessionmaker() as s:
        assert s.scalar(select(Route).where(Route.alias == alias)) is None


def test_find_a_request_in_the_logs_with_its_attempts_and_export_csv(signed_in, live, services, ui_key, double,
                                                                      shots):
    name, secret = ui_key
    double.enqueue("gpt-4o-2024-08-06", {"status": 500, "body": {"error": {"message": "boom"}}})
    resp = _call(live, secret, HELLO | {"model": "smart"})
    assert resp.status_code == 200 and "set-cookie" not in resp.headers
    request_id = resp.headers["x-request-id"]
    log_row(services, request_id)                    # handed over once the server closed the response
    signed_in.get(f"{live.url}/admin/logs/")
    rows = [r for r in _all_css(signed_in, "#log-table tbody tr") if request_id in r.get_attribute("innerHTML")]
    assert len(rows) == 1
    text = rows[0].text
    assert name in text and "smart" in text and "openai/gpt-4o-mini" in text and "fallback" in text
    fits = signed_in.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert fits[0] <= fits[1], f"the logs page is {fits[0]} px wide in a {fits[1]} px window"
    _shot(signed_in, shots, "logs")
    _by_css(signed_in, "#f-search").send_keys(request_id[:14])              # the id's beginning
    _click_and_load(signed_in, "#apply-filters")
    assert request_id in signed_in.page_source
    link = [a for a in _all_css(signed_in, "#log-table a") if request_id in a.text][0]
    link.click()
    _wait(signed_in, lambda d: _all_css(d, "#attempts-table"))
    attempts = _by_css(signed_in, "#attempts-table").text
    assert "openai/gpt-4o-2024-08-06" in attempts and "openai/gpt-4o-mini" in attempts and "ok" in attempts
    price = _by_css(signed_in, "#price-row").text
    assert "openai/gpt-4o-mini" in price and "0.15" in price
    _shot(signed_in, shots, "log-detail")
    # export: today's rows, filtered by the key, through the page's own link (fetched with the browser's session)
    today = datetime.now(timezone.utc).date().isoformat()
    with services.sessionmaker() as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.name == name))
    signed_in.get(f"{live.url}/admin/logs/?from={today}&to={today}&key={key_id}")
    href = _by_css(signed_in, "#export-csv").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in signed_in.get_cookies()}
    export = requests.get(href, cookies=cookies, timeout=20)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.text)))
    mine = [r for r in table if r["request_id"] == request_id]
    assert len(mine) == 1 and mine[0]["fallback_used"] == "true" and mine[0]["attempts"] == "2"
    assert {r["key_id"] for r in table} == {str(key_id)}


def test_test_a_provider_connection_against_the_double(signed_in, live, double, shots):
    signed_in.get(f"{live.url}/admin/providers/")
    _shot(signed_in, shots, "providers")
    _click_and_load(signed_in, "#test-openai")
    result = _by_css(signed_in, "#test-result")
    assert result.get_attribute("data-ok") == "yes"
    assert _by_css(signed_in, "#test-status").text == "200" and "ms" in _by_css(signed_in, "#test-latency").text


def test_a_form_posted_without_its_csrf_token_is_refused(signed_in, live, services):
    name = f"browser nocsrf {uuid.uuid4().hex[:6]}"
    signed_in.get(f"{live.url}/admin/keys/new/")
    _by_css(signed_in, "#name").send_keys(name)
    signed_in.execute_script("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    _save(signed_in)
    assert "The form has expired" in signed_in.page_source
    with services.sessionmaker() as s:
        assert s.scalar(select(ApiKey).where(ApiKey.name == name)) is None


def test_without_chromium_the_browser_tests_skip_unless_ci(monkeypatch, tmp_path):
    import tests.gateway.admin.test_admin_browser as this
    monkeypatch.setattr(this, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        _require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _require_browser()
