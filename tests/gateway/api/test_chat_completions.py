"""POST /v1/chat/completions through a live gateway and the provider double, with the openai SDK as client."""
from decimal import Decimal

import openai
import pytest
import requests

from tests.support.double import openai_completion
from tests.support.logs import log_row as _log_row
from tests.support.openapi import assert_valid

HELLO = [{"role": "user", "content": "Hello"}]



def test_completion_round_trip_and_headers(client, double, services):
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=HELLO,
                                                           temperature=0.2)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: Hello"
    assert completion.model == "openai/gpt-4o-mini"          # echoes what the client asked for
    assert completion.usage.prompt_tokens == 12
    sent = double.last()
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["temperature"] == 0.2
    assert sent.headers["Authorization"] == "Bearer test-openai-key"
    h = raw.headers
    assert h["x-gateway-provider"] == "openai"
    assert h["x-gateway-model"] == "gpt-4o-mini"
    assert h["x-gateway-fallback-used"] == "false"
    assert float(h["x-gateway-latency-ms"]) > 0
    assert float(h["x-gateway-overhead-ms"]) >= 0
    assert h["x-request-id"].startswith("req_")
    row = _log_row(services, h["x-request-id"])
    assert (row.status, row.provider, row.upstream_model, row.prompt_tokens, row.completion_tokens) == \
        (200, "openai", "gpt-4o-mini", 12, 5)
    assert row.usage_known and row.price_version == 1 and not row.stream


def test_cost_header_is_tokens_times_price(client, double, services):
    double.enqueue("gpt-4o-2024-08-06", {"body": openai_completion("gpt-4o-2024-08-06", prompt_tokens=1000,
                                                                   completion_tokens=500, cached_tokens=400)})
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-4o", messages=HELLO)
    # 600 fresh input x 2.50 + 400 cached x 1.25 + 500 output x 10.00, per million tokens
    expected = (Decimal(600) * Decimal("2.50") + Decimal(400) * Decimal("1.25") + Decimal(500) * Decimal(10)) / 10**6
    assert raw.headers["x-gateway-cost-usd"] == f"{expected:.6f}" == "0.007000"
    row = _log_row(services, raw.headers["x-request-id"])
    assert row.cost_usd == expected and row.cached_tokens == 400


def test_unpriced_model_has_no_cost_header_and_is_logged_unpriced(client, services):
    raw = client.chat.completions.with_raw_response.create(model="openai/gpt-unpriced", messages=HELLO)
    assert "x-gateway-cost-usd" not in raw.headers
    row = _log_row(services, raw.headers["x-request-id"])
    assert row.usage_known and row.cost_usd is None and row.price_version is None


def test_tool_call_and_tool_result(client, double):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                "parameters": {"type": "object",
                                                               "properties": {"city": {"type": "string"}}}}}]
    first = client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, tools=tools,
                                           tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, call.function.arguments) == ("call_double_1", "get_weather",
                                                                      '{"city": "Paris"}')
    assert double.last().body["tools"] == tools
    second = client.chat.completions.create(model="openai/gpt-4o-mini", tools=tools, messages=HELLO + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}])
    assert second.choices[0].message.content == "The tool said: 18C and sunny"
    assert double.last().body["messages"][2]["tool_call_id"] == "call_double_1"


def test_unknown_fields_pass_through(client, double):
    client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO,
                                   extra_body={"vendor_knob": {"a": 1}, "top_k": 3})
    assert double.last().body["vendor_knob"] == {"a": 1} and double.last().body["top_k"] == 3


def test_auth_error(live):
    bad = openai.OpenAI(base_url=f"{live.url}/v1", api_key="sk-sy-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.code == "auth_invalid"
    resp = requests.post(f"{live.url}/v1/chat/completions", json={"model": "x", "messages": HELLO})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "auth_missing"
    assert_valid(resp.json(), "ErrorResponse")


@pytest.mark.parametrize("kwargs, param", [
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"messages": HELLO, "temperature": 3}, "temperature"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": HELLO, "n": "two"}, "n"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
])
def test_bad_body_names_the_field(client, double, kwargs, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", **kwargs)
    err = info.value.body
    assert info.value.code == "invalid_request" and err["param"] == param
    assert param in err["message"]
    assert double.requests == []                            # nothing reached the provider


def test_unknown_model(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="nonesuch-model", messages=HELLO)
    assert info.value.code == "model_not_supported" and info.value.body["param"] == "model"


def test_upstream_500_is_provider_unavailable(client, double, services):
    double.enqueue("gpt-4o-mini", *[{"status": 500, "body": {"error": {"message": "boom"}}}] * 2)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.status_code == 502 and info.value.code == "provider_unavailable"
    assert double.calls["gpt-4o-mini"] == 2                    # default: one retry on a retryable error
    rid = info.value.response.headers["x-request-id"]
    row = _log_row(services, rid)
    assert (row.status, row.error_code, row.attempts) == (502, "provider_unavailable", 2)


def test_upstream_400_keeps_the_providers_message(client, double):
    double.enqueue("gpt-4o-mini", {"status": 400, "body": {"error": {
        "message": "Unsupported parameter: 'max_tokens'.", "type": "invalid_request_error",
        "param": "max_tokens", "code": "unsupported_parameter"}}})
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, max_tokens=5)
    assert info.value.code == "invalid_request" and info.value.body["param"] == "max_tokens"
    assert "Unsupported parameter" in info.value.body["message"]
    assert double.calls["gpt-4o-mini"] == 1                    # a 400 is not retried


def test_provider_auth_failure_is_502(client, double):
    double.enqueue("gpt-4o-mini", {"status": 401, "body": {"error": {"message": "Incorrect API key"}}})
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.status_code == 502 and info.value.code == "provider_auth"


def test_minimal_upstream_answer_is_filled_in_to_the_spec(client, double, api_key, live):
    double.enqueue("gpt-4o-mini", {"body": openai_completion("gpt-4o-mini", minimal=True)})
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/gpt-4o-mini", "messages": HELLO})
    body = resp.json()
    assert_valid(body, "CreateChatCompletionResponse")
    assert body["choices"][0]["logprobs"] is None and body["choices"][0]["message"]["refusal"] is None


def test_alias_and_bare_id(client, double):
    raw = client.chat.completions.with_raw_response.create(model="smart", messages=HELLO)
    assert raw.parse().model == "smart" and raw.headers["x-gateway-model"] == "gpt-4o-2024-08-06"
    bare = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    assert bare.headers["x-gateway-provider"] == "openai" and double.last().body["model"] == "gpt-4o-mini"


def test_no_provider_key(client):
    with pytest.raises(openai.BadRequestError) as info:   # mistral is built in but has no key in the env
        client.chat.completions.create(model="mistral/mistral-small-latest", messages=HELLO)
    assert info.value.code == "no_provider_key"


def test_reasoning_suffix_sets_effort(client, double):
    client.chat.completions.create(model="openai/o3:high", messages=HELLO)
    assert double.last().body["model"] == "o3" and double.last().body["reasoning_effort"] == "high"


def test_unexpected_failure_is_an_internal_json_error_with_a_log_row(client, services, monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(services.pipeline, "chat", boom)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.code == "internal" and "secret internals" not in info.value.response.text
    assert "Traceback" not in info.value.response.text
    row = _log_row(services, info.value.response.headers["x-request-id"])
    assert (row.status, row.error_code) == (500, "internal")


def test_key_restricted_to_models(live, services, double):
    from gateway.keys import create_key
    from models import ApiKey
    row, secret = create_key(services.sessionmaker, "restricted")
    with services.sessionmaker() as s, s.begin():
        s.get(ApiKey, row.id).allowed_models = "openai/gpt-4o-mini, smart"
    restricted = openai.OpenAI(base_url=f"{live.url}/v1", api_key=secret, max_retries=0)
    assert restricted.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO).choices
    with pytest.raises(openai.PermissionDeniedError) as info:
        restricted.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert info.value.code == "model_not_allowed"


def test_per_key_rate_limit(live, services):
    from gateway.keys import create_key
    _, secret = create_key(services.sessionmaker, "limited", rpm_limit=3)
    limited = openai.OpenAI(base_url=f"{live.url}/v1", api_key=secret, max_retries=0)
    for _ in range(3):
        limited.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as info:
        limited.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    assert info.value.code == "rate_limited" and int(info.value.response.headers["retry-after"]) >= 1


def test_budget_exhausted_is_quota_exceeded_and_not_retried(live, services, double):
    from decimal import Decimal

    from gateway.keys import create_key
    from models import ApiKey
    row, secret = create_key(services.sessionmaker, "budgeted")
    with services.sessionmaker() as s, s.begin():
        s.get(ApiKey, row.id).budget_usd = Decimal("0.000100")
    budgeted = openai.OpenAI(base_url=f"{live.url}/v1", api_key=secret, max_retries=2)
    double.enqueue("gpt-4o-2024-08-06", {"body": openai_completion("gpt-4o-2024-08-06", prompt_tokens=40,
                                                                   completion_tokens=10)})
    budgeted.chat.completions.create(model="openai/gpt-4o", messages=HELLO)     # 0.0001 + 0.0001 = 0.0002
    calls = len(double.requests)
    with pytest.raises(openai.RateLimitError) as info:
        budgeted.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert info.value.code == "quota_exceeded" and info.value.response.headers["x-should-retry"] == "false"
    assert len(double.requests) == calls                                        # nothing reached the provider
    services.log_writer.flush()                                                 # the day's counter agrees
    from sqlalchemy import func, select
    from models import SpendCounter
    with services.sessionmaker() as s:
        spent = s.scalar(select(func.sum(SpendCounter.spent_usd)).where(SpendCounter.subject == f"key:{row.id}"))
    assert Decimal(str(spent)) == Decimal("0.0002")


def test_image_parts_reach_an_openai_upstream_unchanged(client, double):
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
             {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}}]
    reply = client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": parts}])
    assert reply.choices[0].message.content == "Echo: parts"
    assert double.last().body["messages"][0]["content"] == parts


def test_the_log_row_keeps_the_message_the_client_got(live, api_key, services):
    import requests
    from tests.support.logs import log_row
    r = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"}, timeout=10,
                      json={"model": "openai/gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]})
    assert r.status_code == 400
    row = log_row(services, r.headers["x-request-id"])
    assert row.error_code == "invalid_request" and row.error_message == r.json()["error"]["message"]
    huge = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         timeout=10, json={"model": "x" * 5000, "messages": HELLO})
    assert len(log_row(services, huge.headers["x-request-id"]).error_message) <= 1000
