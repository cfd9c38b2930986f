"""POST /v1/responses with the official OpenAI SDK against the provider doubles, translated onto the chat path:
text, instructions, streaming with its event sequence, an agent loop with thinking, headers, the log row, and every
body and event checked against the official schema."""
import json

import openai
import pytest
import requests

from tests.support.logs import log_row
from tests.support.openapi import assert_valid

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "local/tuned"]
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _raw(live, api_key, body: dict) -> requests.Response:
    return requests.post(f"{live.url}/v1/responses", json=body, timeout=20,
                         headers={"Authorization": f"Bearer {api_key}"})


@pytest.mark.parametrize("model", MODELS)
def test_text_answer_is_the_chat_answer_for_every_provider(client, live, api_key, services, double, model):
    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}])
    raw = client.responses.with_raw_response.create(model=model, input="Hello", instructions="Be brief.")
    resp = raw.parse()
    assert resp.output_text == chat.choices[0].message.content
    assert resp.status == "completed" and resp.id.startswith("resp_") and resp.model == model
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0
    assert raw.headers["x-gateway-provider"] == model.split("/")[0]
    assert float(raw.headers["x-gateway-cost-usd"]) > 0               # the same price per token as on chat
    upstream = double.last().path
    assert upstream.endswith("/responses") == model.startswith("openai/")   # native for openai, else translated
    body = json.loads(raw.http_response.content)
    assert_valid(body, "Response")
    row = log_row(services, raw.headers["x-request-id"])
    assert row.endpoint == "responses" and row.status == 200 and row.usage_known


@pytest.mark.parametrize("model", MODELS)
def test_a_stream_has_the_full_event_sequence_and_validates(live, api_key, model):
    with requests.post(f"{live.url}/v1/responses", stream=True, timeout=20,
                       headers={"Authorization": f"Bearer {api_key}"},
                       json={"model": model, "input": "Hello", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events, names = [], []
        for line in r.iter_lines():
            if line.startswith(b"event: "):
                names.append(line[7:].decode())
            elif line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    assert [e["type"] for e in events] == names                     # every data line has its event line
    for e in events:
        assert_valid(e, "ResponseStreamEvent")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert kind in kinds, kind
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    assert final["output"][-1]["content"][0]["text"] == text == "Echo: Hello"
    assert final["usage"]["output_tokens"] > 0


def test_the_sdk_stream_helper_reads_it(client):
    with client.responses.stream(model="anthropic/claude-sonnet-4-5", input="Hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Echo: Hello"


@pytest.mark.parametrize("model, effort", [("anthropic/claude-sonnet-4-5", "low"), ("gemini/gemini-2.5-flash", "low"),
                                           ("openai/gpt-4o-mini", None)])
def test_an_agent_loop_function_call_then_output_then_answer(client, model, effort):
    kw = {"reasoning": {"effort": effort, "summary": "auto"}} if effort else {}
    first = client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER], **kw)
    calls = [o for o in first.output if o.type == "function_call"]
    if effort:                                  # thinking on: a reasoning item with its summary
        reasoning = [o for o in first.output if o.type == "reasoning"]
        assert reasoning and reasoning[0].summary[0].text
        if model.startswith("anthropic/"):      # the signed thinking block rides in encrypted_content
            assert reasoning[0].encrypted_content.startswith("sy1.")
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments)
    history = [o.model_dump(exclude_none=True) for o in first.output]
    follow = client.responses.create(model=model, tools=[WEATHER], **kw, input=[
        {"role": "user", "content": "Weather in Paris?"}, *history,
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}])
    assert "sunny" in follow.output_text and follow.status == "completed"


def test_what_cannot_be_translated_is_a_400_naming_it(live, api_key):
    r = _raw(live, api_key, {"model": "anthropic/claude-sonnet-4-5", "input": "x",
                             "tools": [{"type": "web_search"}]})
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("tools[0]")
    assert_valid(r.json(), "ErrorResponse")
    r = _raw(live, api_key, {"model": "anthropic/claude-sonnet-4-5", "input": "x", "background": True})
    assert r.status_code == 400 and r.json()["error"]["param"] == "background"


def test_a_responses_only_model_is_served_natively_and_refused_on_chat(live, api_key, double):
    r = _raw(live, api_key, {"model": "openai/o3-pro", "input": "x"})
    assert r.status_code == 200 and r.json()["output"][-1]["content"][0]["text"] == "Echo: x"
    assert double.last().path == "/openai/v1/responses" and double.last().body["model"] == "o3-pro"
    chat = requests.post(f"{live.url}/v1/chat/completions", timeout=20, headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/o3-pro", "messages": [{"role": "user", "content": "x"}]})
    assert chat.status_code == 400 and chat.json()["error"]["code"] == "endpoint_mismatch"
    assert "/v1/responses" in chat.json()["error"]["message"]
    missing = _raw(live, api_key, {"input": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"


def test_routes_and_fallback_apply(client, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 503, "body": {"error": {"message": "down"}}})
    raw = client.responses.with_raw_response.create(model="smart", input="Hello")
    assert raw.headers["x-gateway-fallback-used"] == "true"
    assert raw.parse().output_text == "Echo: Hello"


def test_a_bad_key_is_401_in_the_envelope(live):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{live.url}/v1", api_key="sk-sy-wrong", max_retries=0).responses.create(
            model="openai/gpt-4o-mini", input="x")
