"""Golden tests of the native Responses path's egress side (responses/native.py, responses/egress.py), from the
recorded OpenAI and xAI payloads in tests/fixtures/openai/responses_*.json: every response object and stream event
the client gets validates against the official schema, with our id, the model asked for and our sequence numbers,
whatever the upstream left out; the upstream's own item ids and content stay."""
import copy
import json
import pathlib

import orjson
import pytest

from gateway import exceptions as exc
from gateway.providers.openai.responses_api import ResponsesAPIStreamState
from gateway.responses.egress import NativeEgress
from gateway.responses.native import NativeEvents, failed_events, fill_item, stamp
from gateway.sse import SSEDecoder, SSEEvent
from tests.support.openapi import assert_valid

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "openai"
RESPONSES = sorted(p.name for p in FIXTURES.glob("responses_*.json")
                   if "stream" not in p.name and p.name != "responses_errors.json")
STREAMS = sorted(p.name for p in FIXTURES.glob("responses_stream_*.json"))
RID = "resp_0198d7a1c2e3f4a5b6c7d8e9f0a1b2c3"
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def upstream_items(response: dict) -> list[dict]:
    return [i for i in response.get("output") or [] if isinstance(i, dict)]


def passed_through(fx: dict) -> tuple[list[dict], exc.GatewayError | None]:
    """What the adapter's stream state hands the egress for this recording, and the error it raised."""
    state, out = ResponsesAPIStreamState(), []
    try:
        for event in fx["events"]:
            out += state.feed(SSEEvent(json.dumps(event), event["type"]))
        state.finish()
    except exc.GatewayError as e:
        return out, e
    return out, None


def sse_events(raw: bytes) -> list[tuple[str, dict]]:
    d = SSEDecoder()
    return [(e.event, json.loads(e.data)) for e in d.feed(raw) + d.close()]


# ------------------------------------------------------------------------------------------------ stamp

@pytest.mark.parametrize("name", RESPONSES)
def test_stamp_validates_with_our_id_and_model(name):
    fx = load(name)
    upstream = copy.deepcopy(fx["response"])
    model = fx["request"]["model"]
    out = stamp(upstream, fx["request"], RID, model)
    assert upstream == fx["response"]                     # a copy: the upstream object is not modified
    assert_valid(out, "Response")
    assert out["id"] == RID and out["model"] == model and out["object"] == "response"
    for k in ("error", "incomplete_details", "instructions"):
        assert k in out
    assert out["status"] == fx["response"].get("status", "completed")


@pytest.mark.parametrize("name", RESPONSES)
def test_stamp_keeps_upstream_items_and_content(name):
    fx = load(name)
    out = stamp(fx["response"], fx["request"], RID, fx["request"]["model"])
    items = upstream_items(fx["response"])
    assert [i["type"] for i in out["output"]] == [i["type"] for i in items]
    for got, sent in zip(out["output"], items):
        if "id" in sent:
            assert got["id"] == sent["id"]                 # upstream item ids are kept
        for key, value in sent.items():
            if key != "content":
                assert got[key] == value, key
        for got_part, sent_part in zip(got.get("content") or [], sent.get("content") or []):
            assert {k: got_part[k] for k in sent_part} == sent_part
    for key in ("created_at", "tools", "parallel_tool_calls", "reasoning", "temperature", "top_p", "metadata",
                "incomplete_details", "error", "max_output_tokens", "store"):
        if fx["response"].get(key) is not None:
            assert out[key] == fx["response"][key], key   # what the upstream said is what the client reads


def test_stamp_fills_what_a_lax_server_leaves_out():
    fx = load("responses_lax_minimal.json")
    out = stamp(fx["response"], fx["request"], RID, "local/qwen3-30b-a3b")
    assert out["status"] == "completed"                   # a finished answer, never in_progress
    assert isinstance(out["created_at"], int)
    assert out["tools"] == [] and out["tool_choice"] == "auto" and out["parallel_tool_calls"] is True
    assert out["metadata"] == {} and out["temperature"] == 0.7       # echoed from the request
    message = out["output"][0]
    assert message["id"] == "msg_" + RID.removeprefix("resp_") + "0000"   # ours, as on the translated path
    assert message["status"] == "completed"
    assert message["content"][0] == {"type": "output_text", "text": "Hello! How can I help you today?",
                                     "annotations": [], "logprobs": []}
    assert out["usage"] == {"input_tokens": 11, "output_tokens": 9, "total_tokens": 20,
                            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                            "output_tokens_details": {"reasoning_tokens": 0}}


def test_stamp_leaves_out_nulls_the_schema_does_not_take():
    """OpenAI and xAI send `user: null`; Response.user is a string: left out (or the request's, when it sent one)."""
    fx = load("responses_text.json")
    assert fx["response"]["user"] is None
    assert "user" not in stamp(fx["response"], fx["request"], RID, "openai/gpt-4.1")
    assert stamp(fx["response"], {**fx["request"], "user": "u-1"}, RID, "m")["user"] == "u-1"
    lax = {"object": "response", "output": [], "tools": None, "tool_choice": None, "parallel_tool_calls": None,
           "text": None, "usage": None, "status": None, "created_at": None}
    out = stamp(lax, {"model": "m", "tools": [{"type": "function", "name": "f", "parameters": {}}]}, RID, "m")
    assert_valid(out, "Response")
    assert out["tools"][0]["name"] == "f" and out["status"] == "completed" and "usage" not in out


@pytest.mark.parametrize("response, status", [
    ({"error": {"code": "server_error", "message": "x"}}, "failed"),
    ({"incomplete_details": {"reason": "max_output_tokens"}}, "incomplete"),
    ({}, "completed"),
])
def test_stamp_status_when_the_upstream_says_none(response, status):
    out = stamp({"object": "response", "output": [], **response}, {"model": "m"}, RID, "m")
    assert out["status"] == status
    assert_valid(out, "Response")
    assert stamp({"object": "response", "output": []}, {}, RID, "m", status="in_progress")["status"] == "in_progress"


def test_stamp_echoes_the_expanded_previous_response_id():
    fx = load("responses_text.json")
    out = stamp(fx["response"], {**fx["request"], "previous_response_id": "resp_earlier"}, RID, "m")
    assert out["previous_response_id"] == "resp_earlier"


def test_fill_item_keeps_an_upstream_id_and_mints_a_missing_one():
    assert fill_item({"type": "reasoning", "id": "rs_up"}, "rs_ours")["id"] == "rs_up"
    assert fill_item({"type": "reasoning"}, "rs_ours") == {"type": "reasoning", "id": "rs_ours", "summary": []}
    assert fill_item({"type": "web_search_call", "status": "completed"}, "x") == \
        {"type": "web_search_call", "status": "completed"}          # not ours to shape


# ------------------------------------------------------------------------------------------------ NativeEvents

@pytest.mark.parametrize("name", STREAMS)
def test_native_events_golden(name):
    fx = load(name)
    model = fx["request"]["model"]
    events, error = passed_through(fx)
    native = NativeEvents(fx["request"], RID, model)
    out = [native.stamp(e) for e in events]
    for i, (got, sent) in enumerate(zip(out, events)):
        assert_valid(got, "ResponseStreamEvent")
        assert got["type"] == sent["type"] and got["sequence_number"] == i
        if "response" in got:
            assert got["response"]["id"] == RID and got["response"]["model"] == model
            assert "usage" not in got["response"] or got["response"]["usage"]["total_tokens"] >= 0
        for key in ("item_id", "output_index", "content_index", "summary_index", "delta", "text", "arguments"):
            if key in sent:
                assert got[key] == sent[key], (i, key)     # upstream ids and content pass through
        if "item" in sent and "id" in sent["item"]:
            assert got["item"]["id"] == sent["item"]["id"]
    assert events == passed_through(fx)[0]                 # stamping copies: the upstream events are unchanged
    last = fx["events"][-1]
    if last["type"] in ("response.completed", "response.incomplete"):
        assert error is None
        assert native.final is out[-1]["response"] and native.final["status"] == last["response"]["status"]
        assert [i["id"] for i in native.final["output"]] == [i["id"] for i in last["response"]["output"]]
    else:
        assert error is not None and native.final is None
        tail = failed_events(native, error)
        assert [e["type"] for e in tail] == ["error", "response.failed"]
        assert [e["sequence_number"] for e in tail] == [len(out), len(out) + 1]
        for e in tail:
            assert_valid(e, "ResponseStreamEvent")
        assert tail[0]["code"] == error.code and tail[0]["message"] == error.message
        failed = tail[1]["response"]
        assert failed["id"] == RID and failed["status"] == "failed" and failed["error"]["message"] == error.message


def test_arguments_done_gets_the_name_from_output_item_added():
    fx = load("responses_stream_reasoning_function_call.json")
    done = [e for e in fx["events"] if e["type"] == "response.function_call_arguments.done"]
    assert done and "name" not in done[0]                  # the recording lacks it
    native = NativeEvents(fx["request"], RID, "m")
    out = [native.stamp(e) for e in fx["events"]]
    stamped = [e for e in out if e["type"] == "response.function_call_arguments.done"]
    assert stamped[0]["name"] == "get_weather" and stamped[0]["arguments"] == '{"city":"Paris"}'
    summary = [e for e in out if e["type"] == "response.reasoning_summary_text.done"]
    assert summary[0]["text"].startswith("**Checking Paris weather**")


def test_sequence_numbers_are_ours_from_zero():
    fx = load("responses_stream_text.json")
    shifted = [{**e, "sequence_number": e["sequence_number"] + 40} for e in fx["events"]]
    native = NativeEvents(fx["request"], RID, "m")
    assert [native.stamp(e)["sequence_number"] for e in shifted] == list(range(len(shifted)))


def test_in_progress_responses_drop_usage_null():
    fx = load("responses_stream_text.json")
    native = NativeEvents(fx["request"], RID, "m")
    created = native.stamp(fx["events"][0])
    assert fx["events"][0]["response"]["usage"] is None and "usage" not in created["response"]
    assert created["response"]["status"] == "in_progress" and native.latest is created["response"]


def test_lax_stream_without_statuses_or_item_ids():
    """A lax server's events: a response without status is the status of its event; items without ids get ours,
    the same id in output_item.added and in the final response."""
    native = NativeEvents({"model": "m", "input": "Hi"}, RID, "local/m")
    item = {"type": "message", "role": "assistant", "content": []}
    text = {"type": "output_text", "text": "Hi!"}
    events = [{"type": "response.created", "response": {"object": "response", "output": []}},
              {"type": "response.output_item.added", "output_index": 0, "item": item},
              {"type": "response.completed", "response": {"object": "response", "output": [{**item, "content": [text]}],
                                                          "usage": {"input_tokens": 3, "output_tokens": 2}}}]
    out = [native.stamp(e) for e in events]
    for e in out:
        assert_valid(e, "ResponseStreamEvent")
    assert out[0]["response"]["status"] == "in_progress" and out[2]["response"]["status"] == "completed"
    assert out[1]["item"]["id"] == out[2]["response"]["output"][0]["id"] == "msg_" + RID[5:] + "0000"
    assert native.final["usage"]["total_tokens"] == 5


def test_failed_events_before_any_response_event():
    native = NativeEvents({"model": "openai/gpt-4.1", "input": "x", "store": False}, RID, "openai/gpt-4.1")
    tail = failed_events(native, exc.RateLimited("The provider is rate-limiting."))
    for e in tail:
        assert_valid(e, "ResponseStreamEvent")
    assert [e["sequence_number"] for e in tail] == [0, 1]
    assert tail[0] == {"type": "error", "sequence_number": 0, "code": "rate_limited",
                       "message": "The provider is rate-limiting.", "param": None}
    body = tail[1]["response"]
    assert body["id"] == RID and body["store"] is False and body["output"] == []
    assert body["error"] == {"code": "rate_limit_exceeded", "message": "The provider is rate-limiting."}


# ------------------------------------------------------------------------------------------------ NativeEgress

@pytest.mark.parametrize("name", STREAMS)
def test_native_egress_end_to_end(name):
    """The upstream events, one `chunks` call each as the relay makes them, then end() or error(): the bytes are
    typed SSE events (`event: <type>` then `data: <json>`), each valid; on_final is called exactly once, with the
    final response, before its event is sent (the endpoint stores it)."""
    fx = load(name)
    events, error = passed_through(fx)
    finals: list[dict] = []
    egress = NativeEgress(fx["request"], RID, fx["request"]["model"], on_final=finals.append)
    raw = b""
    for e in events:
        piece = egress.chunks([e])
        assert piece.startswith(b"event: " + e["type"].encode() + b"\ndata: ") and piece.endswith(b"\n\n")
        raw += piece
        if e["type"] in TERMINAL:
            assert len(finals) == 1                       # already stored when the terminal event is sent
    raw += egress.end(None, None, None) if error is None else egress.error(error)
    got = sse_events(raw)
    for i, (kind, data) in enumerate(got):
        assert kind == data["type"] and data["sequence_number"] == i
        assert_valid(data, "ResponseStreamEvent")
    assert len(finals) == 1
    kind, data = got[-1]
    assert kind in TERMINAL and finals[0] == data["response"]
    assert finals[0]["id"] == RID and finals[0]["model"] == fx["request"]["model"]
    if error is None:
        assert [k for k, _ in got] == [e["type"] for e in fx["events"]]
        assert finals[0]["status"] == fx["events"][-1]["response"]["status"]
    else:
        assert [k for k, _ in got[-2:]] == ["error", "response.failed"]
        assert got[-2][1]["code"] == error.code and finals[0]["status"] == "failed"


def test_native_egress_without_on_final_and_several_events_per_call():
    fx = load("responses_stream_text.json")
    egress = NativeEgress(fx["request"], RID, "openai/gpt-4.1")
    raw = egress.chunks(fx["events"][:3]) + egress.chunks(fx["events"][3:]) + egress.end(None, None, "stop")
    got = sse_events(raw)
    assert [k for k, _ in got] == [e["type"] for e in fx["events"]]
    assert [d["sequence_number"] for _, d in got] == list(range(len(fx["events"])))
    text = "".join(d["delta"] for k, d in got if k == "response.output_text.delta")
    assert text == got[-1][1]["response"]["output"][0]["content"][0]["text"] == "The capital of France is Paris."
    first = raw.split(b"\n\n")[0]
    assert first.split(b"\n")[0] == b"event: response.created"
    assert orjson.loads(first.split(b"\n")[1].removeprefix(b"data: "))["response"]["id"] == RID
