"""stream: true through a live gateway and the OpenAI double: SDK iteration, usage, errors, disconnects, keep-alive."""
import dataclasses
import json
import time

import openai
import pytest
import requests

from app import create_app
from tests.support.double import _default_openai, openai_completion, openai_stream
from tests.support.logs import log_row as _row
from tests.support.openapi import assert_valid
from tests.support.server import LiveServer

HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]



def _sse_bodies(resp: requests.Response) -> tuple[list[dict], list[str]]:
    """Parse an SSE body into data payloads and comment lines (a test-side parser, independent of ours)."""
    events, comments = [], []
    for block in resp.content.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: ") and line != "data: [DONE]":
                events.append(json.loads(line[6:]))
            elif line.startswith(":"):
                comments.append(line)
    return events, comments


def _post(live, api_key, body, **kw) -> requests.Response:
    return requests.post(f"{live.url}/v1/chat/completions", json=body, stream=kw.pop("stream", False),
                         headers={"Authorization": f"Bearer {api_key}"}, **kw)


@pytest.mark.parametrize("include_usage", [False, True])
def test_sdk_stream_text_equals_non_streaming_answer(client, double, include_usage):
    full = client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    kwargs = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert {c.model for c in chunks} == {"openai/gpt-4o-mini"}
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    usage_chunks = [c for c in chunks if not c.choices]
    if include_usage:
        assert len(usage_chunks) == 1 and usage_chunks[0].usage.total_tokens == 17
        assert chunks[-1] is usage_chunks[0]
    else:
        assert usage_chunks == [] and all(c.usage is None for c in chunks)
    # usage is always asked of the upstream, whatever the client said
    assert double.last().body["stream_options"]["include_usage"] is True


def test_sdk_stream_tool_calls_equal_non_streaming(client):
    full = client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, tools=TOOLS)
    calls: dict[int, dict] = {}
    finish = None
    for c in client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO, tools=TOOLS, stream=True):
        for tc in c.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = tc.id or entry["id"]
            entry["name"] = (tc.function.name if tc.function and tc.function.name else entry["name"])
            entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
        finish = c.choices[0].finish_reason or finish
    want = full.choices[0].message.tool_calls[0]
    assert calls == {0: {"id": want.id, "name": want.function.name, "arguments": want.function.arguments}}
    assert finish == "tool_calls"


def test_stream_headers_chunks_validate_and_log_row(live, api_key, services):
    resp = _post(live, api_key, {"model": "openai/gpt-4o", "messages": HELLO, "stream": True,
                                 "stream_options": {"include_usage": True}})
    assert resp.status_code == 200
    h = resp.headers
    assert h["content-type"].startswith("text/event-stream")
    assert h["cache-control"] == "no-cache" and h["x-accel-buffering"] == "no"
    assert (h["x-gateway-provider"], h["x-gateway-model"], h["x-gateway-fallback-used"]) == \
        ("openai", "gpt-4o-2024-08-06", "false")
    assert resp.content.endswith(b"data: [DONE]\n\n")
    events, comments = _sse_bodies(resp)
    for event in events:
        assert_valid(event, "CreateChatCompletionStreamResponse")
    # 12 prompt x 2.50 + 5 completion x 10.00 per million
    assert comments == [": x-gateway-cost-usd=0.000080"]
    row = _row(services, h["x-request-id"])
    assert row.stream and row.status == 200 and row.error_code is None
    assert (row.prompt_tokens, row.completion_tokens, str(row.cost_usd.normalize())) == (12, 5, "0.00008")


def test_failure_before_first_byte_falls_back(client, double):
    double.enqueue("gpt-4o-2024-08-06", {"status": 429, "body": {"error": {"message": "slow down"}},
                                         "headers": {"retry-after": "0"}})
    raw = client.chat.completions.with_raw_response.create(model="smart", messages=HELLO, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "Echo: Hello"
    assert raw.headers["x-gateway-fallback-used"] == "true" and raw.headers["x-gateway-model"] == "gpt-4o-mini"


def test_failure_before_first_byte_is_a_json_error(live, api_key, double, services):
    double.enqueue("gpt-4o-mini", *[{"status": 503, "body": {"error": {"message": "overloaded"}}}] * 2)
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    assert resp.status_code == 502 and resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["code"] == "provider_unavailable"
    assert_valid(resp.json(), "ErrorResponse")
    row = _row(services, resp.headers["x-request-id"])
    assert row.stream and row.status == 502 and row.attempts == 2


def test_cut_after_first_byte_becomes_one_error_event(client, double, services):
    pieces = openai_stream(openai_completion("gpt-4o-mini", "a long answer that is cut"))
    double.enqueue("gpt-4o-mini", {"stream": pieces[:3]})           # no finish, no [DONE]: the connection drops
    stream = client.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=HELLO,
                                                              stream=True)
    got = []
    with pytest.raises(openai.APIError) as info:
        for c in stream.parse():
            got.append(c)
    assert got and "ended before" in str(info.value)
    row = _row(services, stream.headers["x-request-id"])
    assert row.error_code == "provider_unavailable" and row.usage_known is False and row.cost_usd is None


def test_stream_without_usage_is_logged_as_unknown_not_zero(live, api_key, double, services):
    completion = openai_completion("gpt-4o-mini", "no usage here")
    pieces = openai_stream(completion, include_usage=False)           # an upstream that ignores include_usage
    double.enqueue("gpt-4o-mini", {"stream": pieces})
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True,
                                 "stream_options": {"include_usage": True}})
    events, comments = _sse_bodies(resp)
    assert events and all(e["choices"] for e in events) and comments == []
    row = _row(services, resp.headers["x-request-id"])
    assert row.status == 200 and row.usage_known is False and row.cost_usd is None


def test_client_disconnect_closes_upstream_and_logs_client_closed(live, api_key, double, services):
    completion = openai_completion("gpt-4o-mini", "x" * 400)
    double.enqueue("gpt-4o-mini", {"stream": openai_stream(completion, pieces=200), "chunk_delay": 0.02})
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True}, stream=True)
    request_id = resp.headers["x-request-id"]
    seen = 0
    for line in resp.iter_lines():
        if line.startswith(b"data: "):
            seen += 1
            if seen == 2:
                break
    resp.close()
    deadline = time.time() + 10
    while "gpt-4o-mini" not in double.closed_streams and time.time() < deadline:
        time.sleep(0.05)
    assert "gpt-4o-mini" in double.closed_streams               # the upstream saw its connection closed
    row = _row(services, request_id)
    assert row.error_code == "client_closed" and row.status == 499 and row.stream


def _timings(services, monkeypatch, **changes):
    monkeypatch.setattr(services.pipeline, "timings", dataclasses.replace(services.pipeline.timings, **changes))


def test_keepalive_comments_during_a_long_pause(live, api_key, double, services, monkeypatch):
    _timings(services, monkeypatch, keepalive_s=0.1)
    completion = _default_openai({"model": "gpt-4o-mini", "messages": HELLO})
    pieces = openai_stream(completion)
    double.enqueue("gpt-4o-mini", {"stream": pieces[:1] + [0.5] + pieces[1:]})   # ~4 keep-alive intervals
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    events, comments = _sse_bodies(resp)
    assert resp.status_code == 200 and comments.count(": keep-alive") >= 2
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == "Echo: Hello"


def test_silence_after_the_headers_is_a_timeout_of_that_attempt_and_the_fallback_serves(live, api_key, double):
    """An upstream that sends its headers and then nothing is not a success: within the route's timeout (1 s for
    `quick`) no chunk came, so the next target serves, and the client sees a normal stream."""
    pieces = openai_stream(openai_completion("slow-a", "late"))
    double.enqueue("slow-a", {"stream": [3.0] + pieces})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO, "stream": True})
    events, _ = _sse_bodies(resp)
    assert resp.status_code == 200
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:timeout,local/fast-a:ok"
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == \
        "Echo: Hello"
    assert resp.content.endswith(b"[DONE]\n\n")


def test_a_stream_may_be_silent_longer_than_the_route_timeout_after_its_first_chunk(live, api_key, double,
                                                                                   services, monkeypatch):
    """The route's timeout (1 s for `quick`) bounds the wait for the first chunk; after it, only the idle timeout
    bounds the gaps (a reasoning model thinking silently mid-stream is not cut at the route timeout)."""
    _timings(services, monkeypatch, keepalive_s=0.3, idle_timeout_s=5)
    pieces = openai_stream(openai_completion("slow-a", "thinks long"))
    double.enqueue("slow-a", {"stream": pieces[:1] + [1.6] + pieces[1:]})
    resp = _post(live, api_key, {"model": "quick", "messages": HELLO, "stream": True})
    events, comments = _sse_bodies(resp)
    assert resp.headers["x-gateway-attempts"] == "local/slow-a:ok" and comments.count(": keep-alive") >= 2, events
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == \
        "thinks long", events


def test_idle_timeout_ends_the_stream_with_an_error_event(live, api_key, double, services, monkeypatch):
    _timings(services, monkeypatch, keepalive_s=0.1, idle_timeout_s=0.4)
    pieces = openai_stream(openai_completion("gpt-4o-mini", "slow"))
    double.enqueue("gpt-4o-mini", {"stream": pieces[:1] + [2.0] + pieces[1:]})
    resp = _post(live, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    events, _ = _sse_bodies(resp)
    assert events[-1]["error"]["code"] == "timeout" and not resp.content.endswith(b"[DONE]\n\n")


@pytest.fixture(scope="module")
def idle_gateway(app, services):
    """A second worker of the same deployment started with SWITCHYARD_STREAM_IDLE_TIMEOUT_S=0.3 in its environment,
    served like the first by gevent's pywsgi with our handler."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWITCHYARD_STREAM_IDLE_TIMEOUT_S", "0.3")
        short = create_app({"DATABASE_URL": services.settings.DATABASE_URL, "TESTING": True,
                            "INSTANCE_DIR": services.settings.INSTANCE_DIR, "CATALOG_REFRESH_S": 0,
                            "LOG_FLUSH_INTERVAL_S": 0.05, "COOLDOWN_FAILURES": 10**6,
                            "REDIS_PREFIX": services.settings.REDIS_PREFIX})
    svc = short.extensions["switchyard"]
    assert svc.settings.STREAM_IDLE_TIMEOUT_S == 0.3
    server = LiveServer(short).start()
    yield server, svc
    server.stop()
    svc.shutdown()


def test_the_idle_deadline_ends_the_response_at_once_not_when_the_upstream_speaks_again(idle_gateway, api_key,
                                                                                        double):
    # The upstream sends its first words, then is silent for 3 s (ten times the idle timeout) before the rest.
    # Under the production server the gateway cuts the stream at the deadline and the client's response ends
    # then (~0.3 s); a server that held the response until the upstream's next chunk would end it after 3 s.
    server, svc = idle_gateway
    pieces = openai_stream(openai_completion("gpt-4o-mini", "one two three"), pieces=3)
    double.enqueue("gpt-4o-mini", {"stream": pieces[:2] + [3.0] + pieces[2:]})
    t0 = time.monotonic()
    resp = _post(server, api_key, {"model": "openai/gpt-4o-mini", "messages": HELLO, "stream": True})
    ended_s = time.monotonic() - t0
    events, _ = _sse_bodies(resp)
    assert resp.status_code == 200
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == "one "
    assert events[-1]["error"]["code"] == "timeout" and "0.3 s" in events[-1]["error"]["message"]
    assert not resp.content.endswith(b"[DONE]\n\n")
    print(f"idle deadline 0.3 s, upstream silent 3 s: the client's response ended after {ended_s:.3f} s")
    assert 0.3 <= ended_s < 1.5
    row = _row(svc, resp.headers["x-request-id"])
    assert row.stream and row.error_code == "timeout"
