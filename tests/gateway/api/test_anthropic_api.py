"""POST /v1/chat/completions routed to Anthropic, through a live gateway and the provider double (openai SDK)."""
from decimal import Decimal

import openai
import pytest
import requests

from gateway.providers.anthropic.effort import THINKING_BUDGETS
from tests.support.double_anthropic import SIGNATURE, THOUGHT, error_body, message
from tests.support.openapi import assert_valid

MODEL = "anthropic/claude-sonnet-4-5"
UPSTREAM = "claude-sonnet-4-5"
HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _raw_post(live, api_key, body: dict) -> dict:
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json=body, timeout=20)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_plain_answer(client, double, live, api_key):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."}] + HELLO, temperature=0.2, stop=["END"])
    completion = raw.parse()
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason, completion.model) == ("Echo: Hello", "stop", MODEL)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 5)
    sent = double.last()
    assert sent.path == "/anthropic/v1/messages"
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["x-api-key"] == "test-anthropic-key" and headers["anthropic-version"] == "2023-06-01"
    assert sent.body == {"model": UPSTREAM, "max_tokens": 1024, "temperature": 0.2, "stop_sequences": ["END"],
                         "system": [{"type": "text", "text": "Be brief."}],
                         "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]}
    assert raw.headers["x-gateway-provider"] == "anthropic" and raw.headers["x-gateway-model"] == UPSTREAM
    assert_valid(_raw_post(live, api_key, {"model": MODEL, "messages": HELLO}), "CreateChatCompletionResponse")


def test_tool_round_trip(client, double, live, api_key):
    first = client.chat.completions.create(model=MODEL, messages=HELLO, tools=TOOLS, tool_choice="auto",
                                           parallel_tool_calls=False)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_double_1", "get_weather",
                                                                      '{"city": "Paris"}')
    sent = double.last().body
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    history = HELLO + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                       {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    second = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=history)
    assert second.choices[0].message.content == "The tool said: 18C and sunny"
    assert second.choices[0].finish_reason == "stop"
    assert double.last().body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_double_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_double_1",
                                      "content": "18C and sunny"}]}]
    body = _raw_post(live, api_key, {"model": MODEL, "messages": HELLO, "tools": TOOLS})
    assert_valid(body, "CreateChatCompletionResponse")


def test_image_input_data_url_and_https_url(client, double):
    content = [{"type": "text", "text": "What is in these?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]
    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert completion.choices[0].message.content == "Echo: What is in these?"
    assert double.last().body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}]


def test_reasoning_suffix_sends_thinking_and_round_trips_the_signature(client, double, live, api_key):
    budget = THINKING_BUDGETS["*"]["low"]
    first = client.chat.completions.create(model=f"{MODEL}:low", messages=HELLO, tools=TOOLS)
    sent = double.last().body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget} == {"type": "enabled",
                                                                               "budget_tokens": 1024}
    assert sent["max_tokens"] == 1024 + budget and "temperature" not in sent
    msg = first.choices[0].message
    assert msg.reasoning_content == THOUGHT
    assert msg.thinking_blocks == [{"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}]
    assert first.model == f"{MODEL}:low"
    history = HELLO + [msg.model_dump(exclude_none=True),
                       {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "sunny"}]
    second = client.chat.completions.create(model=f"{MODEL}:low", messages=history, tools=TOOLS)
    assert second.choices[0].message.content == "The tool said: sunny"
    assistant = double.last().body["messages"][1]
    assert assistant["content"][0] == {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    assert assistant["content"][1]["type"] == "tool_use"
    assert_valid(_raw_post(live, api_key, {"model": f"{MODEL}:high", "messages": HELLO}),
                 "CreateChatCompletionResponse")
    assert double.last().body["thinking"]["budget_tokens"] == THINKING_BUDGETS["*"]["high"]


def test_temperature_with_thinking_is_a_400_before_the_provider(client, double):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=f"{MODEL}:medium", messages=HELLO, temperature=0.3)
    assert info.value.code == "invalid_request" and info.value.body["param"] == "temperature"
    assert double.requests == []


def test_unsupported_parameter_is_a_400_naming_it(client, double):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=HELLO, n=2)
    assert info.value.body["param"] == "n" and double.requests == []


def test_cost_header_counts_cache_reads_and_writes(client, double, services):
    double.enqueue(UPSTREAM, {"body": message(UPSTREAM, [{"type": "text", "text": "Cached."}], input_tokens=1000,
                                              output_tokens=500, cache_read=2000, cache_write=400)})
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    usage = raw.parse().usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3400, 500, 3900)
    assert usage.prompt_tokens_details.cached_tokens == 2000
    # 1000 fresh x 3.00 + 2000 cache reads x 0.30 + 400 cache writes x 3.75 + 500 output x 15.00, per million
    expected = (Decimal(1000) * Decimal("3.00") + Decimal(2000) * Decimal("0.30") + Decimal(400) * Decimal("3.75")
                + Decimal(500) * Decimal("15.00")) / 10**6
    assert raw.headers["x-gateway-cost-usd"] == f"{expected:.6f}" == "0.012600"


def test_upstream_529_is_provider_unavailable(client, double):
    double.enqueue(UPSTREAM, *[{"status": 529, "body": error_body("overloaded_error", "Overloaded")}] * 2)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.status_code == 502 and info.value.code == "provider_unavailable"
    assert "Overloaded" in info.value.body["message"]
    assert double.calls[UPSTREAM] == 2                       # retryable: the default one retry was used
    assert_valid(info.value.response.json(), "ErrorResponse")


def test_upstream_400_keeps_anthropics_message(client, double):
    double.enqueue(UPSTREAM, {"status": 400, "body": error_body(
        "invalid_request_error", "messages: text content blocks must be non-empty")})
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.code == "invalid_request"
    assert info.value.body["message"] == "messages: text content blocks must be non-empty"
    assert double.calls[UPSTREAM] == 1                       # a 400 is not retried
    assert_valid(info.value.response.json(), "ErrorResponse")


@pytest.mark.parametrize("headers, message", [
    ({"anthropic-version": "2023-06-01"}, "invalid x-api-key"),
    ({"x-api-key": "wrong", "anthropic-version": "2023-06-01"}, "invalid x-api-key"),
    ({"x-api-key": "test-anthropic-key"}, "anthropic-version: header is required"),
])
def test_the_double_checks_key_and_version_like_anthropic(double, headers, message):
    resp = requests.post(f"{double.url}/anthropic/v1/messages", headers=headers, timeout=5,
                         json={"model": UPSTREAM, "max_tokens": 10, "messages": HELLO})
    assert resp.status_code == 401
    assert resp.json() == {"type": "error", "error": {"type": "authentication_error", "message": message},
                           "request_id": "req_double_err"}
