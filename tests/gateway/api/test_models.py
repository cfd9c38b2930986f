"""GET /v1/models, /v1/models/<id>, health, and the error envelope on paths and methods we do not serve."""
import time

import openai
import pytest
import requests

from tests.support.openapi import assert_valid


def test_model_list_has_aliases_and_servable_models(client, live, api_key):
    page = client.models.list()
    ids = {m.id: m for m in page.data}
    assert ids["smart"].owned_by == "route:openai"
    assert ids["openai/gpt-4o-mini"].owned_by == "openai"
    assert "openai/gpt-old" not in ids                         # retired
    assert "paused" not in ids                                 # paused route
    body = requests.get(f"{live.url}/v1/models", headers={"Authorization": f"Bearer {api_key}"}).json()
    assert_valid(body, "ListModelsResponse")
    one = requests.get(f"{live.url}/v1/models/openai/gpt-4o", headers={"Authorization": f"Bearer {api_key}"})
    assert one.status_code == 200 and one.json()["id"] == "openai/gpt-4o"
    assert_valid(one.json(), "Model")


def test_unknown_model_retrieve_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("nope")
    assert info.value.code == "not_found"


def test_model_list_needs_a_key(live):
    resp = requests.get(f"{live.url}/v1/models")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "auth_missing"


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/nothing/here", 404, "not_found"),
    ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
    ("PUT", "/v1/models", 405, "method_not_allowed"),
])
def test_errors_are_json_for_any_path_and_method(live, method, path, status, code):
    resp = requests.request(method, f"{live.url}{path}")
    assert resp.status_code == status and resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["type"] == code
    assert_valid(resp.json(), "ErrorResponse")


def test_bad_json_and_too_large_body(live, api_key, app, monkeypatch):
    h = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    resp = requests.post(f"{live.url}/v1/chat/completions", data=b"{not json", headers=h)
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]["message"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    resp = requests.post(f"{live.url}/v1/chat/completions", data=b"x" * 5000, headers=h)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


def test_health(live):
    assert requests.get(f"{live.url}/healthz").json() == {"status": "ok"}
    assert requests.get(f"{live.url}/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_tokens_and_cost(live, client, double):
    def sample(text: str, name: str, **labels) -> float:
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(name + "{"):
                got = ",".join(sorted(line[len(name) + 1:line.index("}")].split(",")))
                if got == want:
                    return float(line.rsplit(" ", 1)[1])
        return 0.0
    before = requests.get(f"{live.url}/metrics").text
    client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    ok = dict(endpoint="chat.completions", provider="openai", code="ok", stream="false")
    deadline = time.time() + 5                      # counted when the server has closed the response
    while True:
        after = requests.get(f"{live.url}/metrics").text
        if sample(after, "switchyard_requests_total", **ok) > sample(before, "switchyard_requests_total", **ok) \
                or time.time() > deadline:
            break
        time.sleep(0.02)
    assert sample(after, "switchyard_requests_total", **ok) == sample(before, "switchyard_requests_total", **ok) + 1
    prompt = dict(provider="openai", model="gpt-4o-mini", kind="prompt")
    assert sample(after, "switchyard_tokens_total", **prompt) - sample(before, "switchyard_tokens_total", **prompt) == 12
    cost = dict(provider="openai", model="gpt-4o-mini")
    spent = sample(after, "switchyard_cost_usd_total", **cost) - sample(before, "switchyard_cost_usd_total", **cost)
    assert abs(spent - (12 * 0.15 + 5 * 0.60) / 1e6) < 1e-12
    assert "switchyard_overhead_duration_seconds_bucket" in after
