"""Golden tests of the Gemini stream state machine: recorded SSE transcripts (tests/fixtures/gemini/stream_*.json)
decoded with the gateway's SSE decoder, split in several ways, and compared chunk by chunk."""
import json
import pathlib

import pytest

from gateway import exceptions as exc
from gateway.values import Target
from gateway.providers.gemini import GeminiAdapter
from gateway.providers.gemini.stream import GeminiStreamState
from gateway.sse import SSEDecoder, SSEEvent
from tests.support.double_gemini import sse_stream
from tests.support.openapi import assert_valid
from tests.support.streams import envelope_of

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "gemini"
STREAMS = sorted(FIXTURES.glob("stream_*.json"))
TARGET = Target(provider="gemini", provider_type="gemini", base_url="https://generativelanguage.googleapis.com/v1beta",
                api_key="test-gemini-key", upstream_model="gemini-2.5-flash", slug="gemini/gemini-2.5-flash")


def splits(raw: bytes) -> dict[str, list[bytes]]:
    """The same bytes as the network might deliver them: whole, byte by byte (splitting CRLFs and the
    multibyte '×'), and in odd-sized pieces."""
    return {"whole": [raw], "bytes": [raw[i:i + 1] for i in range(len(raw))],
            "sevens": [raw[i:i + 7] for i in range(0, len(raw), 7)]}


def run(fixture: dict, pieces: list[bytes]) -> tuple[list[dict], GeminiStreamState, exc.GatewayError | None]:
    state = GeminiAdapter().stream_state(TARGET)
    envelope = envelope_of(fixture)
    decoder = SSEDecoder()
    chunks: list[dict] = []
    try:
        for piece in pieces:
            for event in decoder.feed(piece):
                chunks += map(envelope.stamp, state.feed(event))
        for event in decoder.close():
            chunks += map(envelope.stamp, state.feed(event))
        chunks += map(envelope.stamp, state.finish())
    except exc.GatewayError as e:
        return chunks, state, e
    return chunks, state, None


@pytest.mark.parametrize("split", ["whole", "bytes", "sevens"])
@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.stem)
def test_stream_golden(path, split):
    fixture = json.loads(path.read_text())
    expected = fixture["expected"]
    chunks, state, error = run(fixture, splits(fixture["sse"].encode())[split])
    assert chunks == expected["chunks"]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    got_error = None if error is None else {"error": type(error).__name__, "status": error.status, "code": error.code,
                                            "param": error.param, "message": error.message}
    assert got_error == expected["error"]
    assert (state.usage.as_openai() if state.usage else None) == expected["usage"]
    assert state.finish_reason == expected["finish_reason"]


def test_there_are_enough_stream_cases():
    assert len(STREAMS) >= 5


def test_stream_and_non_stream_agree_on_tool_call_ids():
    """The same answer streamed or not yields the same tool-call ids (so a retry or a switch keeps them)."""
    fixture = json.loads((FIXTURES / "stream_function_calls_gemini3.json").read_text())
    chunks, _, _ = run(fixture, [fixture["sse"].encode()])
    deltas = [c["choices"][0]["delta"] for c in chunks]
    streamed = [d["tool_calls"][0]["id"] for d in deltas if "tool_calls" in d]
    events = [json.loads(line[len("data: "):]) for line in fixture["sse"].split("\r\n\r\n") if line]
    whole = {"responseId": "Gm5", "candidates": [{"index": 0, "finishReason": "STOP", "content": {
        "role": "model", "parts": [p for e in events for p in e["candidates"][0]["content"]["parts"]]}}]}
    completion = GeminiAdapter().parse_response(whole, TARGET, "m")
    assert [c["id"] for c in completion.body["choices"][0]["message"]["tool_calls"]] == streamed


def test_blank_and_comment_events_send_nothing():
    state = GeminiStreamState()
    assert state.feed(SSEEvent("")) == [] and state.feed(SSEEvent("  ")) == []


def test_a_non_json_event_is_a_provider_failure():
    with pytest.raises(exc.ProviderUnavailable):
        GeminiStreamState().feed(SSEEvent("not json"))


def test_an_empty_stream_is_a_provider_failure():
    with pytest.raises(exc.ProviderUnavailable):
        GeminiStreamState().finish()


def test_the_double_streams_what_the_state_machine_reads():
    """The provider double's Gemini SSE (used by API tests) goes through the state machine as a real stream."""
    parts = [{"text": "Thinking.", "thought": True}, {"text": "Echo: Hello there"}]
    raw = b"".join(sse_stream("gemini-2.5-flash", parts))
    fixture = {"chunk_id": "c", "created": 1, "requested_model": "m", "include_usage": False}
    chunks, state, error = run(fixture, [raw])
    assert error is None
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Echo: Hello there"
    assert [c["choices"][0]["delta"].get("reasoning_content") for c in chunks if
            "reasoning_content" in c["choices"][0]["delta"]] == ["Thinking."]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and state.usage.prompt_tokens == 12
