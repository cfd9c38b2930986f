"""Golden tests of the Anthropic stream state machine: recorded SSE streams -> the OpenAI chunks expected."""
import json
import pathlib

import pytest

from gateway import exceptions as exc
from gateway.providers.anthropic import AnthropicAdapter, AnthropicStreamState
from gateway.values import Target, Usage
from gateway.sse import SSEEvent
from tests.support.double_anthropic import answer_for, anthropic_stream
from tests.support.openapi import assert_valid
from gateway.chunks import ChunkEnvelope
from tests.support.streams import decode, envelope_of, run

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "anthropic"
STREAMS = sorted(p.name for p in FIXTURES.glob("stream_*.json"))
ADAPTER = AnthropicAdapter()
TARGET = Target(provider="anthropic", provider_type="anthropic", base_url="https://api.anthropic.com/v1",
                api_key="sk-ant-test", upstream_model="claude-sonnet-4-5", slug="anthropic/claude-sonnet-4-5")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())




def state_for(fx: dict) -> AnthropicStreamState:
    state = ADAPTER.stream_state(TARGET)
    assert isinstance(state, AnthropicStreamState)
    return state


def test_enough_stream_fixtures():
    assert len(STREAMS) >= 5


@pytest.mark.parametrize("name", STREAMS)
def test_stream_golden(name):
    fx = load(name)
    raw = fx["upstream_sse"].encode()
    events = decode(raw)
    assert decode(raw, piece=1) == events            # any network split gives the same events
    state = state_for(fx)
    chunks, error = run(state, events, envelope_of(fx))
    assert chunks == fx["chunks"]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert state.usage == Usage(**fx["usage"])
    if "error" in fx:
        want = fx["error"]
        assert error is not None, "the stream should have failed"
        got = {"class": type(error).__name__, "status": error.status, "code": error.code, "message": error.message,
               "retryable": error.retryable}
        assert got == want
    else:
        assert error is None
        assert state.finish_reason == chunks[-1]["choices"][0]["finish_reason"] is not None


def test_tool_indexes_count_tool_blocks_only():
    fx = load("stream_tools.json")
    chunks, _ = run(state_for(fx), decode(fx["upstream_sse"].encode()), envelope_of(fx))
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    firsts = [(c["index"], c["id"], c["function"]["name"]) for c in calls if "id" in c]
    assert firsts == [(0, "toolu_01Paris", "get_weather"), (1, "toolu_02Rome", "get_weather")]
    args = {i: "".join(c["function"]["arguments"] for c in calls if c["index"] == i) for i in (0, 1)}
    assert [json.loads(args[i]) for i in (0, 1)] == [{"city": "Paris"}, {"city": "Rome"}]


def test_ping_and_non_json_data():
    state = AnthropicStreamState()
    assert state.feed(SSEEvent('{"type": "ping"}', "ping")) == []
    with pytest.raises(exc.ProviderUnavailable):
        state.feed(SSEEvent("not json", "message_start"))


@pytest.mark.parametrize("kind, cls, status", [("overloaded_error", exc.ProviderUnavailable, 502),
                                               ("rate_limit_error", exc.RateLimited, 429),
                                               ("invalid_request_error", exc.InvalidRequest, 400),
                                               ("api_error", exc.ProviderUnavailable, 502),
                                               ("something_new", exc.ProviderUnavailable, 502)])
def test_error_events_map_by_type(kind, cls, status):
    state = AnthropicStreamState()
    event = SSEEvent(json.dumps({"type": "error", "error": {"type": kind, "message": "boom"}}), "error")
    with pytest.raises(cls) as info:
        state.feed(event)
    assert info.value.status == status and "boom" in info.value.message


def _reassemble(chunks: list[dict]) -> dict:
    """Fold OpenAI chunks back into one message, the way an SDK client does."""
    msg: dict = {"content": None, "tool_calls": {}, "reasoning_content": None, "thinking_blocks": []}
    finish = None
    for c in chunks:
        d = c["choices"][0]["delta"]
        for key in ("content", "reasoning_content"):
            if d.get(key) is not None:
                msg[key] = (msg[key] or "") + d[key]
        msg["thinking_blocks"] += d.get("thinking_blocks", [])
        for call in d.get("tool_calls", []):
            slot = msg["tool_calls"].setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            slot["name"] = call.get("function", {}).get("name") or slot["name"]
            slot["arguments"] += call.get("function", {}).get("arguments", "")
        finish = c["choices"][0]["finish_reason"] or finish
    msg["tool_calls"] = [msg["tool_calls"][i] for i in sorted(msg["tool_calls"])]
    msg["finish_reason"] = finish
    return msg


@pytest.mark.parametrize("body", [
    {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello there"}]},
    {"model": "claude-sonnet-4-5", "thinking": {"type": "enabled", "budget_tokens": 1024},
     "messages": [{"role": "user", "content": "Hello there"}]},
    {"model": "claude-sonnet-4-5", "thinking": {"type": "enabled", "budget_tokens": 1024},
     "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
     "messages": [{"role": "user", "content": "Weather?"}]},
], ids=["text", "thinking", "thinking+tool"])
def test_the_doubles_stream_and_body_translate_to_the_same_answer(body):
    """The double's SSE rendering and the stream state agree with the non-streaming translation."""
    answer = answer_for(body)
    message = ADAPTER.parse_response(answer, TARGET, "anthropic/claude-sonnet-4-5").body["choices"][0]
    state = AnthropicStreamState()
    chunks, error = run(state, decode(b"".join(anthropic_stream(answer))),
                        ChunkEnvelope("c", 1, "anthropic/claude-sonnet-4-5"))
    assert error is None
    got = _reassemble(chunks)
    want = message["message"]
    assert got["content"] == want["content"]
    assert got["reasoning_content"] == want.get("reasoning_content")
    assert got["thinking_blocks"] == want.get("thinking_blocks", [])
    assert [{"id": c["id"], "name": c["name"], "arguments": json.loads(c["arguments"])} for c in got["tool_calls"]] \
        == [{"id": c["id"], "name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in want.get("tool_calls", [])]
    assert got["finish_reason"] == message["finish_reason"]
    assert state.usage == Usage(prompt_tokens=12, completion_tokens=5)
