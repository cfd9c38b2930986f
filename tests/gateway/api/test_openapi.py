"""GET /openapi.json: a valid OpenAPI 3.1 description of every public endpoint, with the error table, the bearer
scheme and the headers; and the real answers of the live gateway (bodies and headers of successes and errors of
each endpoint) validate against it."""
import re

import pytest
import requests
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31

from gateway import exceptions as exc
from gateway.keys import create_key
from tests.support.own_openapi import Description

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def described(live) -> Description:
    return Description.fetch(live.url)


def test_served_without_a_key_as_valid_openapi_31(live, described):
    resp = requests.get(f"{live.url}/openapi.json")              # no Authorization header at all
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    doc = described.doc
    assert doc["openapi"].startswith("3.1")
    errors = sorted(Draft202012Validator(OPENAPI_31).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]] == []
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)                 # each one a valid 2020-12 schema


def test_every_error_code_of_the_table_is_in_the_envelope(described):
    table = {cls.code for cls in vars(exc).values() if isinstance(cls, type) and issubclass(cls, exc.GatewayError)}
    error = described.doc["components"]["schemas"]["Error"]
    assert set(error["properties"]["code"]["enum"]) == table == set(error["properties"]["type"]["enum"])
    assert {"not_implemented", "payload_too_large", "internal"} <= table
    assert error["required"] == ["code", "message", "param", "type"]
    envelope = described.doc["components"]["schemas"]["ErrorResponse"]
    assert envelope["required"] == ["error"] and envelope["additionalProperties"] is False


def test_the_bearer_scheme_guards_the_v1_endpoints_only(described):
    doc = described.doc
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A gateway key (sk-sy-...)."}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            if path.startswith("/v1/"):
                assert op["security"] == [{"bearerAuth": []}], (method, path)
                assert "401" in op["responses"], (method, path)
            else:
                assert {"bearerAuth": []} not in op["security"], (method, path)


def test_every_route_of_the_app_is_described_and_nothing_else(app, described):
    def template(rule: str) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule).replace("{model_id}", "{model}")
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/admin", "/static")) or rule.endpoint.startswith("not_served:"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method.lower(), template(rule.rule)))
    described_ops = {(m, p) for p, ops in described.doc["paths"].items() for m in ops if m != "parameters"}
    assert described_ops == served


def test_the_headers_are_those_the_app_sends(described):
    chat = described.doc["paths"]["/v1/chat/completions"]["post"]["responses"]
    ok = set(chat["200"]["headers"])
    assert {"x-request-id", "x-gateway-provider", "x-gateway-model", "x-gateway-fallback-used", "x-gateway-attempts",
            "x-gateway-latency-ms", "x-gateway-overhead-ms", "x-gateway-cost-usd", "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests"} <= ok
    assert {"retry-after", "x-should-retry"} <= set(chat["429"]["headers"])
    assert "retry-after" in chat["503"]["headers"]
    headers = described.doc["components"]["headers"]
    assert headers["x-request-id"]["required"] is True and headers["x-gateway-cost-usd"]["required"] is False


def _h(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_chat_answers_validate(live, api_key, described, double, app, services, monkeypatch):
    url = f"{live.url}/v1/chat/completions"
    ok = requests.post(url, json={"model": "openai/gpt-4o-mini", "messages": HELLO}, headers=_h(api_key))
    assert ok.status_code == 200 and ok.headers["x-gateway-cost-usd"]
    described.check("POST", "/v1/chat/completions", ok)
    stream = requests.post(url, json={"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True},
                           headers=_h(api_key))
    assert stream.status_code == 200 and stream.text.endswith("data: [DONE]\n\n")
    described.check("POST", "/v1/chat/completions", stream)
    errors = [
        ({"model": "openai/gpt-4o-mini", "messages": [{"role": ["user"], "content": "x"}]}, api_key, 400),
        ({"model": "no-such-model", "messages": HELLO}, api_key, 400),
        ({"model": "openai/gpt-4o-mini", "messages": HELLO}, "sk-sy-wrong", 401),
        ({"model": "paused", "messages": HELLO}, api_key, 404),
        ({"model": "openai/gpt-old", "messages": HELLO}, api_key, 410),
    ]
    for body, key, status in errors:
        resp = requests.post(url, json=body, headers=_h(key))
        assert resp.status_code == status, resp.text
        described.check("POST", "/v1/chat/completions", resp)
    double.enqueue("gpt-4o-mini", {"status": 503, "body": {"error": {"message": "down"}}},
                   {"status": 503, "body": {"error": {"message": "down"}}})
    down = requests.post(url, json={"model": "openai/gpt-4o-mini", "messages": HELLO}, headers=_h(api_key))
    assert down.status_code == 502 and down.json()["error"]["code"] == "provider_unavailable"
    described.check("POST", "/v1/chat/completions", down)
    _, limited = create_key(services.sessionmaker, "openapi-rpm", rpm_limit=1)
    first = requests.post(url, json={"model": "openai/gpt-4o-mini", "messages": HELLO}, headers=_h(limited))
    described.check("POST", "/v1/chat/completions", first)
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    refused = requests.post(url, json={"model": "openai/gpt-4o-mini", "messages": HELLO}, headers=_h(limited))
    assert refused.status_code == 429 and refused.headers["retry-after"]
    described.check("POST", "/v1/chat/completions", refused)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    big = requests.post(url, data=b"{" + b" " * 5000 + b"}", headers={**_h(api_key), "Content-Type": "application/json"})
    assert big.status_code == 413
    described.check("POST", "/v1/chat/completions", big)


def test_responses_answers_validate(live, api_key, described):
    url = f"{live.url}/v1/responses"
    made = requests.post(url, json={"model": "openai/gpt-4o-mini", "input": "Hello"}, headers=_h(api_key))
    assert made.status_code == 200
    described.check("POST", "/v1/responses", made)
    rid = made.json()["id"]
    stream = requests.post(url, json={"model": "openai/gpt-4o-mini", "input": "Hello", "stream": True},
                           headers=_h(api_key))
    described.check("POST", "/v1/responses", stream)
    for body, status in (({"model": "openai/gpt-4o-mini", "input": 5}, 400),
                         ({"model": "openai/gpt-4o-mini", "input": "x", "include": [[1]]}, 400),
                         ({"input": "x"}, 400)):
        resp = requests.post(url, json=body, headers=_h(api_key))
        assert resp.status_code == status and resp.json()["error"]["param"], resp.text
        described.check("POST", "/v1/responses", resp)
    described.check("POST", "/v1/responses", requests.post(url, json={"model": "m", "input": "x"}))   # 401
    one = "/v1/responses/{response_id}"
    described.check("GET", one, requests.get(f"{url}/{rid}", headers=_h(api_key)))
    items = f"{url}/{rid}/input_items"
    page = requests.get(items, headers=_h(api_key))
    assert page.status_code == 200 and page.json()["data"]
    described.check("GET", one + "/input_items", page)
    described.check("GET", one + "/input_items", requests.get(items + "?limit=0", headers=_h(api_key)))   # 400
    gone = requests.delete(f"{url}/{rid}", headers=_h(api_key))
    assert gone.status_code == 200
    described.check("DELETE", one, gone)
    for method in ("GET", "DELETE"):
        missing = requests.request(method, f"{url}/{rid}", headers=_h(api_key))
        assert missing.status_code == 404
        described.check(method, one, missing)
    described.check("GET", one + "/input_items", requests.get(items, headers=_h(api_key)))              # 404
    described.check("GET", one, requests.get(f"{url}/{rid}"))                                            # 401


def test_models_usage_and_health_answers_validate(live, api_key, described):
    v1 = f"{live.url}/v1"
    cases = [
        ("GET", "/v1/models", f"{v1}/models", _h(api_key), 200),
        ("GET", "/v1/models", f"{v1}/models", {}, 401),
        ("GET", "/v1/models/{model}", f"{v1}/models/openai/gpt-4o-mini", _h(api_key), 200),
        ("GET", "/v1/models/{model}", f"{v1}/models/nope", _h(api_key), 404),
        ("GET", "/v1/usage", f"{v1}/usage", _h(api_key), 200),
        ("GET", "/v1/usage", f"{v1}/usage?per_page=0", _h(api_key), 400),
        ("GET", "/v1/usage", f"{v1}/usage?key=1", _h(api_key), 403),
        ("GET", "/v1/usage/summary", f"{v1}/usage/summary?group_by=model", _h(api_key), 200),
        ("GET", "/v1/usage/summary", f"{v1}/usage/summary?group_by=week", _h(api_key), 400),
        ("GET", "/v1/usage/summary", f"{v1}/usage/summary", {}, 401),
        ("GET", "/healthz", f"{live.url}/healthz", {}, 200),
        ("GET", "/readyz", f"{live.url}/readyz", {}, 200),
        ("GET", "/metrics", f"{live.url}/metrics", {}, 200),
        ("GET", "/openapi.json", f"{live.url}/openapi.json", {}, 200),
    ]
    requests.post(f"{v1}/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": HELLO},
                  headers=_h(api_key))                            # a row for the usage pages
    for method, template, url, headers, status in cases:
        resp = requests.request(method, url, headers=headers)
        assert resp.status_code == status, (url, resp.text)
        described.check(method, template, resp)


def test_a_readyz_failure_validates(live, described, services, monkeypatch):
    monkeypatch.setattr(services.settings, "READY_MAX_LOG_BACKLOG", -1)
    resp = requests.get(f"{live.url}/readyz")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "unavailable"
    described.check("GET", "/readyz", resp)


def test_a_completion_with_every_header_validates(live, api_key, described, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 429, "body": {"error": {"message": "slow down"}}})
    resp = requests.post(f"{live.url}/v1/chat/completions", json={"model": "smart", "messages": HELLO},
                         headers={**_h(api_key), "X-Request-Id": "client-42"})
    assert resp.status_code == 200 and resp.headers["x-gateway-fallback-used"] == "true"
    assert resp.headers["x-request-id"] == "client-42"
    described.check("POST", "/v1/chat/completions", resp)


def test_the_check_refuses_an_undocumented_status_header_or_body(described):
    import copy
    import json

    def answer(status: int, body: dict, headers: dict) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = status, json.dumps(body).encode()
        r.headers.update({"Content-Type": "application/json", **headers})
        return r
    good = {"id": "m", "object": "model", "created": 1, "owned_by": "openai"}
    described.check("GET", "/v1/models/{model}", answer(200, good, {}))
    with pytest.raises(AssertionError, match="owned_by"):
        described.check("GET", "/v1/models/{model}", answer(200, {**good, "owned_by": 5}, {}))
    with pytest.raises(AssertionError, match="x-gateway-brand-new is sent but not documented"):
        described.check("GET", "/v1/models/{model}", answer(200, good, {"x-gateway-brand-new": "1"}))
    with pytest.raises(AssertionError, match="status 418 is not documented"):
        described.check("GET", "/v1/models/{model}", answer(418, good, {}))
    err = {"error": {"message": "m", "type": "not_found", "code": "no_such_code", "param": None}}
    with pytest.raises(AssertionError, match="no_such_code"):
        described.check("GET", "/v1/models/{model}", answer(404, err, {}))
    doc = copy.deepcopy(described.doc)
    with pytest.raises(AssertionError, match="required header x-request-id is missing"):
        Description(doc).check("POST", "/v1/chat/completions", answer(400, {**err, "error": {
            **err["error"], "code": "invalid_request", "type": "invalid_request"}}, {"x-gateway-overhead-ms": "1.00"}))
