"""/v1/responses passed through to a provider's own Responses API: which targets go native (the provider's
`responses` setting, the model's catalog entry for xAI), xAI's multi-agent effort mapping, a route mixing a native
and a translated target, and the native stream's failures (an upstream failure, a cut stream, a client that
leaves) with the events, the log row and the upstream connection checked."""
import json
import time

import openai
import pytest
import requests

from tests.support.double_responses import responses_body, responses_stream
from tests.support.logs import log_row
from tests.support.openapi import assert_valid


def _events(live, api_key, body: dict) -> tuple[list[dict], requests.Response]:
    with requests.post(f"{live.url}/v1/responses", stream=True, timeout=20, json={**body, "stream": True},
                       headers={"Authorization": f"Bearer {api_key}"}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith(b"data: ")]
    for e in events:
        assert_valid(e, "ResponseStreamEvent")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events, r


@pytest.mark.parametrize("model, path", [
    ("openai/gpt-4o-mini", "/openai/v1/responses"),     # the provider named openai: native by default
    ("proxy/gpt-4o-mini", "/openai/v1/responses"),      # configured `responses: native`
    ("local/tuned", "/local/v1/chat/completions"),      # any other provider: translated by default
])
def test_which_targets_go_native(client, double, model, path):
    resp = client.responses.create(model=model, input="Hello", metadata={"team": "a"}, user="u-1")
    assert double.last().path == path and resp.output_text == "Echo: Hello"
    if path.endswith("/responses"):                     # the body unchanged but for the model id
        sent = double.last().body
        assert sent == {"model": model.split("/")[1].replace("tuned", "tuned-7b"), "input": "Hello",
                        "metadata": {"team": "a"}, "user": "u-1"}
        assert "authorization" not in {k.lower(): v for k, v in sent.items()}


def test_unknown_fields_pass_through_to_a_native_upstream(client, double):
    client.responses.create(model="openai/gpt-4o-mini", input="Hello", extra_body={"truncation": "auto",
                                                                                   "vendor_flag": {"x": 1}})
    assert double.last().body["truncation"] == "auto" and double.last().body["vendor_flag"] == {"x": 1}


@pytest.mark.parametrize("suffix, effort", [(":low", "low"), (":medium", "medium"), (":high", "high"),
                                            (":max", "xhigh")])
def test_xai_multi_agent_effort_sets_the_agent_count(client, double, suffix, effort):
    resp = client.responses.create(model=f"xai/grok-4.20-multi-agent{suffix}", input="Research this.",
                                   reasoning={"summary": "auto"})
    sent = double.last()
    assert sent.path == "/xai/v1/responses" and sent.body["model"] == "grok-4.20-multi-agent-0309"
    assert sent.body["reasoning"] == {"effort": effort, "summary": "auto"}    # low/medium: 4 agents, high/xhigh: 16
    assert resp.model == f"xai/grok-4.20-multi-agent{suffix}" and resp.output_text == "Echo: Research this."


def test_xai_multi_agent_is_not_served_on_chat(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="xai/grok-4.20-multi-agent",
                                       messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "endpoint_mismatch" and "/v1/responses" in info.value.message


def test_a_mixed_route_falls_back_from_native_to_translated(client, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 503, "body": {"error": {"message": "down"}}})
    raw = client.responses.with_raw_response.create(model="mixed", input="Hello", instructions="Be brief.")
    resp = raw.parse()
    assert raw.headers["x-gateway-fallback-used"] == "true" and raw.headers["x-gateway-provider"] == "anthropic"
    assert resp.output_text == "Echo: Hello" and resp.model == "mixed" and resp.id.startswith("resp_")
    assert double.requests[-2].path == "/openai/v1/responses" and double.last().path == "/anthropic/v1/messages"
    assert_valid(json.loads(raw.http_response.content), "Response")


def test_a_mixed_route_stream_falls_back_before_the_first_byte(live, api_key, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 500, "body": {"error": {"message": "boom"}}})
    events, r = _events(live, api_key, {"model": "mixed", "input": "Hello"})
    assert r.headers["x-gateway-fallback-used"] == "true"
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][-1]["content"][0]["text"] == "Echo: Hello"


def test_the_native_answer_carries_our_id_model_and_price(client, double, services):
    raw = client.responses.with_raw_response.create(model="smart", input="Hello")
    resp, body = raw.parse(), json.loads(raw.http_response.content)
    assert resp.id.startswith("resp_") and resp.id != "resp_double" and resp.model == "smart"
    assert_valid(body, "Response")
    row = log_row(services, raw.headers["x-request-id"])
    assert row.endpoint == "responses" and row.provider == "openai" and row.usage_known
    assert row.prompt_tokens == body["usage"]["input_tokens"] and row.completion_tokens == body["usage"]["output_tokens"]
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(
        (row.prompt_tokens * 2.5 + row.completion_tokens * 10) / 1e6)


def test_an_upstream_failure_after_the_first_byte_is_error_then_failed(live, api_key, double, services):
    answer = responses_body({"model": "gpt-4o-mini", "input": "Hello"})
    failed = dict(answer, status="failed", output=[], error={"code": "server_error", "message": "The model crashed."})
    pieces = responses_stream(answer)[:3] + [0.2,                     # sent: the failure comes after the first byte

        b"event: response.failed\ndata: " + json.dumps({"type": "response.failed", "sequence_number": 3,
                                                         "response": failed}).encode() + b"\n\n"]
    double.enqueue("gpt-4o-mini", {"stream": pieces})
    events, r = _events(live, api_key, {"model": "openai/gpt-4o-mini", "input": "Hello"})
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-2:] == ["error", "response.failed"]
    assert "The model crashed." in events[-1]["response"]["error"]["message"]
    row = log_row(services, r.headers["x-request-id"])
    assert row.error_code is not None and row.stream and "The model crashed." in row.error_message


def test_a_cut_native_stream_ends_with_error_then_failed(live, api_key, double):
    pieces = responses_stream(responses_body({"model": "gpt-4o-mini", "input": "Hello"}))
    double.enqueue("gpt-4o-mini", {"stream": pieces[:-1]})             # no response.completed
    events, _ = _events(live, api_key, {"model": "openai/gpt-4o-mini", "input": "Hello"})
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert events[-2]["code"] == "provider_unavailable"


def test_a_client_that_leaves_closes_the_native_upstream(live, api_key, double, services):
    pieces = responses_stream(responses_body({"model": "gpt-4o-mini", "input": "x" * 400}))
    double.enqueue("gpt-4o-mini", {"stream": pieces, "chunk_delay": 0.05})
    resp = requests.post(f"{live.url}/v1/responses", stream=True, timeout=20,
                         headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": "openai/gpt-4o-mini", "input": "x" * 400, "stream": True})
    for i, _ in enumerate(line for line in resp.iter_lines() if line.startswith(b"data: ")):
        if i == 2:
            break
    resp.close()
    deadline = time.time() + 10
    while "gpt-4o-mini" not in double.closed_streams and time.time() < deadline:
        time.sleep(0.05)
    assert "gpt-4o-mini" in double.closed_streams
    row = log_row(services, resp.headers["x-request-id"])
    assert row.error_code == "client_closed" and row.status == 499
