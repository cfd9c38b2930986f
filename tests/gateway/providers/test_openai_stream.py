"""Golden tests of the OpenAI-compatible stream state: recorded SSE streams -> the OpenAI chunks expected."""
import json
import pathlib

import pytest

from gateway import exceptions as exc
from gateway.config import BUILTIN_PROVIDERS
from gateway.values import Target, Usage
from gateway.providers.openai import VARIANTS, OpenAIAdapter, OpenAIStreamState
from gateway.sse import SSEEvent
from tests.support.openapi import assert_valid
from tests.support.streams import decode, envelope_of, run

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "openai"
STREAMS = sorted(p.name for p in FIXTURES.glob("stream_*.json"))
ADAPTER = OpenAIAdapter()


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def target(provider: str, upstream_model: str, **over) -> Target:
    base_url = over.pop("base_url", None) or (BUILTIN_PROVIDERS[provider][1] if provider in BUILTIN_PROVIDERS
                                              else "http://127.0.0.1:8000/v1")
    return Target(provider=provider, provider_type="openai", base_url=base_url, api_key="sk-test",
                  upstream_model=upstream_model, slug=f"{provider}/{upstream_model}", **over)




def state_for(fx: dict) -> OpenAIStreamState:
    state = ADAPTER.stream_state(target(**fx["target"]))
    assert isinstance(state, OpenAIStreamState)
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
    assert state.usage == (Usage(**fx["usage"]) if fx["usage"] is not None else None)
    if "error" in fx:
        assert error is not None, "the stream should have failed"
        got = {"class": type(error).__name__, "status": error.status, "code": error.code, "message": error.message,
               "retryable": error.retryable}
        assert got == fx["error"]
    else:
        assert error is None
        assert state.finish_reason == chunks[-1]["choices"][0]["finish_reason"] is not None


def _reassemble(chunks: list[dict]) -> dict:
    """Fold OpenAI chunks back into one message, the way an SDK client does (accumulate tool calls by index)."""
    msg: dict = {"content": None, "reasoning_content": None, "tool_calls": {}}
    for c in chunks:
        d = c["choices"][0]["delta"]
        for key in ("content", "reasoning_content"):
            if d.get(key) is not None:
                msg[key] = (msg[key] or "") + d[key]
        for call in d.get("tool_calls", []):
            slot = msg["tool_calls"].setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            fn = call.get("function") or {}
            slot["name"] = fn.get("name") or slot["name"]
            slot["arguments"] += fn.get("arguments") or ""
    return msg


@pytest.mark.parametrize("name, calls", [
    ("stream_openai_tool_calls.json", [("call_Pa1", {"city": "Paris"}), ("call_Ro2", {"city": "Rome"})]),
    ("stream_vllm_parallel_index0.json", [("chatcmpl-tool-a1", {"city": "Paris"}),
                                          ("chatcmpl-tool-b2", {"city": "Rome"})]),
])
def test_tool_calls_reassemble_by_index(name, calls):
    fx = load(name)
    chunks, _ = run(state_for(fx), decode(fx["upstream_sse"].encode()), envelope_of(fx))
    got = _reassemble(chunks)["tool_calls"]
    assert [(got[i]["id"], json.loads(got[i]["arguments"])) for i in sorted(got)] == calls


def test_reasoning_deltas_reassemble():
    fx = load("stream_deepseek_reasoning.json")
    msg = _reassemble(run(state_for(fx), decode(fx["upstream_sse"].encode()), envelope_of(fx))[0])
    assert (msg["reasoning_content"], msg["content"]) == ("9.11 vs 9.8: compare tenths.", "9.8 is larger.")
    fx = load("stream_mistral_thinking.json")
    msg = _reassemble(run(state_for(fx), decode(fx["upstream_sse"].encode()), envelope_of(fx))[0])
    assert (msg["reasoning_content"], msg["content"]) == ("97: not divisible by 2, 3, 5, 7.", "Yes, prime.")


def test_non_json_data_and_empty_events():
    state = OpenAIStreamState()
    assert state.feed(SSEEvent("[DONE]", None)) == [] and state.feed(SSEEvent("", None)) == []
    assert state.feed(SSEEvent("[1, 2]", None)) == []
    with pytest.raises(exc.ProviderUnavailable):
        state.feed(SSEEvent("not json", None))


def test_a_stream_with_no_choice_at_all_is_cut():
    state = OpenAIStreamState(variant=VARIANTS["openai"])
    state.feed(SSEEvent(json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0}}), None))
    with pytest.raises(exc.ProviderUnavailable):
        state.finish()


def test_every_choice_needs_its_finish_reason():
    state = OpenAIStreamState()
    for index, finish in ((0, None), (1, None), (0, "stop")):
        state.feed(SSEEvent(json.dumps({"choices": [{"index": index, "delta": {"content": "x"},
                                                     "finish_reason": finish}]}), None))
    with pytest.raises(exc.ProviderUnavailable):
        state.finish()                         # choice 1 never finished
    state.feed(SSEEvent(json.dumps({"choices": [{"index": 1, "delta": {}, "finish_reason": "length"}]}), None))
    assert state.finish() == [] and state.finish_reason == "length"


@pytest.mark.parametrize("error, cls, status", [
    ({"message": "rate limited", "code": 429}, exc.RateLimited, 429),
    ({"message": "bad", "code": 400}, exc.InvalidRequest, 400),
    ({"message": "boom", "code": "internal"}, exc.ProviderUnavailable, 502),
    ("plain text error", exc.ProviderUnavailable, 502),
])
def test_error_events_map_by_code(error, cls, status):
    state = OpenAIStreamState()
    with pytest.raises(cls) as info:
        state.feed(SSEEvent(json.dumps({"error": error}), None))
    assert info.value.status == status
