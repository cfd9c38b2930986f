"""Upstreams that misbehave, through the live gateway: what the client sees, that the upstream is let go, that the
fallback is taken, and that nothing of our provider key comes back in a message."""
import dataclasses
import json
import logging
import time

import orjson
import pytest
import requests

from tests.support.double import openai_completion, openai_stream
from tests.support.logs import log_row
from tests.support.openapi import assert_valid

HELLO = [{"role": "user", "content": "Hello"}]


def _post(live, api_key, body, **kw) -> requests.Response:
    return requests.post(f"{live.url}/v1/chat/completions", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {api_key}"}, **kw)


def _events(resp: requests.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in resp.content.decode().split("\n")
            if line.startswith("data: ") and line != "data: [DONE]"]


def test_a_stream_that_gives_up_lets_the_upstream_go_at_once(live, api_key, double, services, monkeypatch):
    """The idle deadline ends the relay while the pump is blocked reading a silent upstream: the upstream's
    connection is closed then (the socket is shut down), not when a read timeout fires much later."""
    monkeypatch.setattr(services.pipeline, "timings",
                        dataclasses.replace(services.pipeline.timings, keepalive_s=0.1, idle_timeout_s=0.4))
    pieces = openai_stream(openai_completion("gpt-4o-mini", "never finished"))
    double.enqueue("gpt-4o-mini", {"stream": pieces[:2], "hold_s": 10})
    t0 = time.monotonic()
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    assert _events(resp)[-1]["error"]["code"] == "timeout"
    deadline = time.time() + 5
    while "gpt-4o-mini" not in double.hung_up and time.time() < deadline:
        time.sleep(0.02)
    assert "gpt-4o-mini" in double.hung_up, "the upstream connection stayed open after the stream gave up"
    assert double.hung_up["gpt-4o-mini"] - t0 < 3.0          # idle 0.4 s: let go right then, not after 10 s


def test_a_dribbling_non_streaming_upstream_is_cut_at_the_route_timeout_and_falls_back(live, api_key, double):
    """`quick` has a 1 s route timeout; an answer arriving a byte every 0.1 s would take ~30 s."""
    body = json.dumps(openai_completion("slow-a", "dribbled")).encode()
    double.enqueue("slow-a", {"dribble": body, "every": 0.1})
    t0 = time.monotonic()
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO})
    took = time.monotonic() - t0
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:timeout,local/fast-a:ok"
    assert took < 5, f"the call took {took:.1f} s"


@pytest.mark.parametrize("answer", [
    {"choices": [{"index": 0, "finish_reason": "tool_calls",
                  "message": {"role": "assistant", "content": None,
                              "tool_calls": [{"id": "c1", "type": "function", "function": "get_weather"}]}}]},
    {"choices": [{"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": "x", "reasoning_content": {"not": "text"}}}]},
], ids=["function-is-a-string", "reasoning-not-a-string"])
def test_a_malformed_answer_is_the_providers_fault_and_falls_back(live, api_key, double, services, answer):
    double.enqueue("slow-a", {"body": {"id": "x", "object": "chat.completion", "created": 1, "model": "slow-a",
                                       **answer}})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:provider_unavailable,local/fast-a:ok"
    row = log_row(services, resp.headers["x-request-id"])
    assert row.status == 200


def test_a_malformed_answer_without_a_fallback_is_a_502_naming_it(client, api_key, live, double):
    bad = {"body": {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": None,
                        "tool_calls": [{"id": "c", "type": "function", "function": 7}]}}]}}
    double.enqueue("gpt-4o-mini", bad, bad)             # a bare slug: one retry (SWITCHYARD_DEFAULT_RETRIES)
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO})
    assert resp.status_code == 502
    assert resp.headers["x-gateway-attempts"] == ("openai/gpt-4o-mini:provider_unavailable,"
                                                  "openai/gpt-4o-mini:provider_unavailable")
    body = resp.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "provider_unavailable" and "cannot read" in body["error"]["message"]


def test_a_malformed_stream_event_before_the_first_byte_falls_back(live, api_key, double):
    bad = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "slow-a",
           "choices": [{"index": 0, "finish_reason": None,
                        "delta": {"tool_calls": [{"index": [1], "id": {"a": 1}, "function": {"name": "f"}}]}}]}
    double.enqueue("slow-a", {"stream": [b"data: " + orjson.dumps(bad) + b"\n\n", b"data: [DONE]\n\n"]})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO, "stream": True})
    assert resp.status_code == 200
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:provider_unavailable,local/fast-a:ok"
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in _events(resp) if e.get("choices")) == \
        "Echo: Hello"


def test_a_providers_401_never_carries_our_key_back(live, api_key, double, services, caplog):
    """The double's key is `test-openai-key`; OpenAI quotes a masked form of the key it refused."""
    for quoted in ("test-ope**********-key", "test...-key", "test-openai-key"):
        double.enqueue("gpt-4o-mini", {"status": 401, "body": {"error": {
            "message": f"Incorrect API key provided: {quoted}. You can find your API key at "
                       f"https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
            "param": None, "code": "invalid_api_key"}}})
        with caplog.at_level(logging.WARNING, logger="switchyard.upstream"):
            resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO})
        assert resp.status_code == 502 and resp.json()["error"]["code"] == "provider_auth"
        assert resp.headers["x-should-retry"] == "false"      # the SDK would retry a 502: our key stays refused
        message = resp.json()["error"]["message"]
        assert "[redacted]" in message and quoted not in message and "-key" not in message.split("find")[0]
        row = log_row(services, resp.headers["x-request-id"])
        with services.sessionmaker() as s:
            from sqlalchemy import select

            from models import RequestAttempt
            stored = s.scalars(select(RequestAttempt.error_message).where(
                RequestAttempt.request_id == row.request_id)).all()
        assert stored and all(quoted not in m for m in stored)
        assert row.error_message == message                   # the row keeps what the client was told, scrubbed
        assert all(quoted not in r.getMessage() for r in caplog.records)


def test_an_answer_past_the_size_limit_is_the_providers_fault_and_falls_back(live, api_key, double, services,
                                                                             monkeypatch):
    """A worker's memory is not an upstream's to fill: past the transport's limit the answer is cut and the
    fallback serves (the limit is 128 MiB; a 5 MiB answer against a 1 MiB limit here)."""
    monkeypatch.setattr(services.pipeline.transport, "max_answer_bytes", 1024 * 1024)
    double.enqueue("slow-a", {"fault": "huge"})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO})
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:provider_unavailable,local/fast-a:ok"
    row = log_row(services, resp.headers["x-request-id"])
    with services.sessionmaker() as s:
        from sqlalchemy import select

        from models import RequestAttempt
        first = s.scalar(select(RequestAttempt).where(RequestAttempt.request_id == row.request_id,
                                                      RequestAttempt.position == 0))
    assert first.error_message == "The provider's answer passed 1048576 bytes."


def test_a_stream_event_past_the_size_limit_is_the_providers_fault_and_falls_back(live, api_key, double,
                                                                                  monkeypatch):
    """One SSE event longer than the decoder takes (64 Mi characters; 100,000 here) is an unreadable stream."""
    monkeypatch.setattr("gateway.sse.MAX_EVENT_CHARS", 100_000)
    big = openai_stream(openai_completion("slow-a", "x" * 200_000), pieces=1)[1:]    # the text first, no role chunk
    double.enqueue("slow-a", {"stream": big})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO, "stream": True})
    assert resp.status_code == 200
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:provider_unavailable,local/fast-a:ok"
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in _events(resp) if e.get("choices")) == \
        "Echo: Hello"


def test_a_stream_request_answered_with_a_json_completion_is_named_so(live, api_key, double):
    """A server that ignores `stream: true` and answers with a chat.completion: not an event stream, said so."""
    completion = openai_completion("gpt-4o-mini", "not streamed")
    double.enqueue("gpt-4o-mini", {"body": completion}, {"body": completion})   # and the retry
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    assert resp.status_code == 502
    body = resp.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "provider_unavailable"
    assert body["error"]["message"] == "The provider answered the stream request with a JSON body, not an event stream."
