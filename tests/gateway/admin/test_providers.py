"""The providers page: every provider serving is listed (built-in ones too), and "test connection" makes one
one-token completion against the double with the stored key, showing status, latency and the provider's message."""
import re
import uuid

from tests.gateway.admin.conftest import PREFIX


def _result(html):
    found = {k: re.search(rf'id="test-{k}">(.*?)</td>', html, re.S).group(1).strip()
             for k in ("status", "latency", "message")}
    found["ok"] = re.search(r'data-ok="(\w+)"', html).group(1)
    return found


def test_the_list_shows_every_provider_serving_with_a_test_button(admin):
    page = admin.get("/admin/providers/").text
    assert 'id="serving-table"' in page
    for name in ("openai", "anthropic", "gemini", "xai"):
        assert f'id="test-{name}"' in page


def test_connection_to_each_wire_protocol_against_the_double(admin, double):
    for name, model in (("openai", "openai/gpt-4o-mini"), ("anthropic", "anthropic/claude-sonnet-4-5"),
                        ("gemini", "gemini/gemini-2.5-flash")):
        html = admin.post("/admin/providers/test/", data={"name": name, "model": model}).text
        got = _result(html)
        assert got["ok"] == "yes" and got["status"] == "200", (name, got)
        assert got["latency"].endswith(" ms") and "one-token completion" in got["message"]


def test_a_wrong_key_shows_the_providers_status_and_message_without_the_key(admin, services, double):
    name, wrong = f"{PREFIX}prov-{uuid.uuid4().hex[:6]}", "sk-wrong-" + uuid.uuid4().hex
    resp = admin.post("/admin/providers/new/", data={
        "name": name, "type": "openai", "base_url": f"{double.url}/openai/v1", "api_key": wrong, "responses": "",
        "enabled": "y"}, follow_redirects=True)
    assert resp.status_code == 200
    html = admin.post("/admin/providers/test/", data={"name": name, "model": "gpt-4o-mini"}).text
    got = _result(html)
    assert got["ok"] == "no" and got["status"] == "401" and "Incorrect API key" in got["message"]
    assert wrong not in html


def test_an_unreachable_provider_and_a_keyless_one_say_why(admin, services):
    name = f"{PREFIX}down-{uuid.uuid4().hex[:6]}"
    admin.post("/admin/providers/new/", data={"name": name, "type": "openai", "base_url": "http://127.0.0.1:9/v1",
                                             "api_key": "sk-x", "responses": "", "enabled": "y"})
    got = _result(admin.post("/admin/providers/test/", data={"name": name, "model": "m"}).text)
    assert got["ok"] == "no" and got["status"] == "no answer" and got["message"]
    keyless = f"{PREFIX}nokey-{uuid.uuid4().hex[:6]}"
    admin.post("/admin/providers/new/", data={"name": keyless, "type": "openai", "base_url": "http://127.0.0.1:9/v1",
                                             "api_key": "", "responses": "", "enabled": "y"})
    got = _result(admin.post("/admin/providers/test/", data={"name": keyless, "model": "m"}).text)
    assert got["ok"] == "no" and "No API key" in got["message"]


def test_the_test_needs_the_csrf_token(admin):
    resp = admin.post("/admin/providers/test/", data={"name": "openai"}, csrf=False)
    assert resp.status_code == 400 and "security token" in resp.text
