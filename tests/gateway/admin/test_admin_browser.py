"""The admin panel in headless Chromium against the live server: sign in, make a key and a route, read the logs.

Skipped with the reason when Chromium or its driver is missing, unless CI is set: then they must run.
"""
import hashlib
import os
import uuid

import pytest
import requests
from sqlalchemy import select

from models import ApiKey, RequestLog
from tests.support.logs import log_row
from tests.gateway.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, PREFIX

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--password-store=basic",
                 "--window-size=1600,1000")
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


def test_create_a_key_and_read_its_secret_once(signed_in, live, services, ui_key):
    name, secret = ui_key
    assert secret.startswith("sk-sy-")
    with services.sessionmaker() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and row.rpm_limit == 120
    signed_in.get(f"{live.url}/admin/keys/")
    assert name in signed_in.page_source and not _all_css(signed_in, "#new-key-secret")
    assert secret not in signed_in.page_source


def test_create_a_route_with_a_target(signed_in, live, services):
    alias = f"{PREFIX}browser-{uuid.uuid4().hex[:6]}"
    signed_in.get(f"{live.url}/admin/routes/new/")
    _by_css(signed_in, "#alias").send_keys(alias)
    _by_css(signed_in, "#description").send_keys("made in Chromium")
    _by_css(signed_in, "#targets-button").click()
    model = _wait(signed_in, lambda d: _all_css(d, "input[name='targets-0-model']"))[0]
    model.send_keys("openai/gpt-4o-mini")
    _save(signed_in)
    assert signed_in.current_url.endswith("/admin/routes/")
    rows = [r.text for r in _all_css(signed_in, "table.model-list tbody tr")]
    assert any(alias in r and "openai/gpt-4o-mini" in r for r in rows), rows
    route = services.catalog.snapshot.routes[alias]
    assert [t.model for t in route.targets] == ["openai/gpt-4o-mini"]


def test_request_logs_after_an_api_call(signed_in, live, services, ui_key, double, tmp_path):
    name, secret = ui_key
    resp = requests.post(f"{live.url}/v1/chat/completions", json=HELLO,
                         headers={"Authorization": f"Bearer {secret}"}, timeout=20)
    assert resp.status_code == 200 and "set-cookie" not in resp.headers
    request_id = resp.headers["x-request-id"]
    log_row(services, request_id)                    # handed over once the server closed the response
    signed_in.get(f"{live.url}/admin/logs/")
    rows = [r for r in _all_css(signed_in, "table.model-list tbody tr") if request_id in r.text]
    assert len(rows) == 1
    assert name in rows[0].text and "openai/gpt-4o-mini" in rows[0].text and "$0.0" in rows[0].text
    shot = tmp_path / "request-logs.png"
    assert signed_in.save_screenshot(str(shot))
    assert shot.exists() and shot.stat().st_size > 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with services.sessionmaker() as s:
        log_id = s.scalar(select(RequestLog.id).where(RequestLog.request_id == request_id))
    signed_in.get(f"{live.url}/admin/logs/details/?id={log_id}")
    attempts = _by_css(signed_in, "#attempts-table").text
    assert "openai/gpt-4o-mini" in attempts and "ok" in attempts
    assert signed_in.save_screenshot(str(tmp_path / "request-log-details.png"))
    signed_in.get(f"{live.url}/admin/")              # the home page under the admin CSP: styled, counted
    assert "Providers serving" in signed_in.page_source and "Requests today" in signed_in.page_source
    assert signed_in.save_screenshot(str(tmp_path / "home.png"))


def test_without_chromium_the_browser_tests_skip_unless_ci(monkeypatch, tmp_path):
    import tests.gateway.admin.test_admin_browser as this
    monkeypatch.setattr(this, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        _require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _require_browser()
