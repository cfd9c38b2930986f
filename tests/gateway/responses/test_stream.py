"""Golden tests of the chat chunks -> Responses stream events state machine, from recorded chunk sequences (the
adapters' own stream fixtures plus the pipeline's usage chunk), and the fold property: the final response of a
stream equals the non-streamed translation of the same answer, and the events add up to it."""
import copy
import json
import pathlib

import pytest

from gateway import exceptions as exc
from gateway.responses import ResponsesStream, from_chat
from tests.support.openapi import assert_valid, spec

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "responses"
STREAMS = sorted(p.name for p in FIXTURES.glob("stream_*.json"))
RID = "resp_68a1f0c2d4e08190a1b2c3d4e5f60718"
NOW = 1754000500
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _members() -> dict[str, str]:
    """Event type -> the ResponseStreamEvent member that describes it, from the official schema."""
    schemas = spec()["components"]["schemas"]
    out = {}
    for ref in schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        out[schemas[name]["properties"]["type"]["enum"][0]] = name
    return out


MEMBERS = _members()


def run(fx: dict) -> list[dict]:
    stream = ResponsesStream(fx["request"], response_id=RID, clock=lambda: NOW)
    events = []
    for chunk in fx["chunks"]:
        events += stream.feed(chunk)
    if "error" in fx:
        events += stream.fail(getattr(exc, fx["error"]["class"])(fx["error"]["message"]))
    else:
        events += stream.finish()
    return events


def fold_chunks(chunks: list[dict]) -> dict:
    """The chat.completion a non-streamed call returns for the same answer (what an OpenAI client folds)."""
    message = {"role": "assistant", "content": None, "refusal": None}
    calls: dict[int, dict] = {}
    finish, usage = None, None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for key in ("content", "refusal", "reasoning_content"):
                if delta.get(key):
                    message[key] = (message.get(key) or "") + delta[key]
            if delta.get("thinking_blocks"):
                message.setdefault("thinking_blocks", []).extend(delta["thinking_blocks"])
            for call in delta.get("tool_calls") or []:
                into = calls.setdefault(call["index"], {"id": None, "type": "function",
                                                        "function": {"name": None, "arguments": ""}})
                into["id"] = call.get("id") or into["id"]
                into["function"]["name"] = call.get("function", {}).get("name") or into["function"]["name"]
                into["function"]["arguments"] += call.get("function", {}).get("arguments") or ""
                if call.get("extra_content"):
                    into["extra_content"] = call["extra_content"]
            finish = choice.get("finish_reason") or finish
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {"id": "chatcmpl-folded", "object": "chat.completion", "created": NOW, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage}


def fold_events(events: list[dict]) -> list[dict]:
    """The output items as a client accumulates them from added items and deltas; checks every *.done event
    repeats what the deltas built."""
    items: dict[int, dict] = {}
    for e in events:
        kind, at = e["type"], e.get("output_index")
        item = items.get(at)
        if kind == "response.output_item.added":
            assert at not in items and at == len(items), "output indexes are new and consecutive"
            items[at] = copy.deepcopy(e["item"])
        elif kind == "response.reasoning_summary_part.added":
            assert e["summary_index"] == len(item["summary"])
            item["summary"].append(copy.deepcopy(e["part"]))
        elif kind == "response.reasoning_summary_text.delta":
            item["summary"][e["summary_index"]]["text"] += e["delta"]
        elif kind in ("response.reasoning_summary_text.done", "response.reasoning_summary_part.done"):
            text = e["text"] if "text" in e else e["part"]["text"]
            assert item["summary"][e["summary_index"]]["text"] == text
        elif kind == "response.content_part.added":
            assert e["content_index"] == len(item["content"])
            item["content"].append(copy.deepcopy(e["part"]))
        elif kind == "response.output_text.delta":
            item["content"][e["content_index"]]["text"] += e["delta"]
        elif kind == "response.refusal.delta":
            item["content"][e["content_index"]]["refusal"] += e["delta"]
        elif kind == "response.output_text.done":
            assert item["content"][e["content_index"]]["text"] == e["text"]
        elif kind == "response.refusal.done":
            assert item["content"][e["content_index"]]["refusal"] == e["refusal"]
        elif kind == "response.content_part.done":
            assert item["content"][e["content_index"]] == e["part"]
        elif kind == "response.function_call_arguments.delta":
            item["arguments"] += e["delta"]
        elif kind == "response.function_call_arguments.done":
            assert (item["arguments"], item["name"]) == (e["arguments"], e["name"])
        elif kind == "response.output_item.done":
            done = e["item"]
            assert {k: v for k, v in item.items() if k != "status"} == {
                k: v for k, v in done.items() if k not in ("status", "encrypted_content")}
            items[at] = copy.deepcopy(done)     # the status and encrypted_content come with the done item
        if "item_id" in e:
            assert e["item_id"] == items[at]["id"]
    return [items[i] for i in sorted(items)]


def test_enough_stream_fixtures():
    assert len(STREAMS) >= 6


@pytest.mark.parametrize("name", STREAMS)
def test_stream_golden(name):
    fx = load(name)
    events = run(fx)
    assert events == fx["events"]
    for event in events:
        assert_valid(event, "ResponseStreamEvent")
        assert_valid(event, MEMBERS[event["type"]])
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    for e in events[:2]:
        assert e["response"]["status"] == "in_progress" and e["response"]["output"] == []
    assert [e["type"] for e in events if e["type"] in TERMINAL] == [events[-1]["type"]]


@pytest.mark.parametrize("name", [n for n in STREAMS if "error" not in load(n)])
def test_fold_equals_the_non_streamed_translation(name):
    fx = load(name)
    final = run(fx)[-1]["response"]
    body = from_chat(fold_chunks(fx["chunks"]), fx["request"], response_id=RID, created_at=NOW, completed_at=NOW)
    assert final == body
    assert final["usage"] is not None and final["status"] in ("completed", "incomplete")


@pytest.mark.parametrize("name", STREAMS)
def test_events_add_up_to_the_final_output(name):
    events = run(load(name))
    folded = fold_events(events)
    final = events[-1]["response"]["output"]
    if events[-1]["type"] == "response.failed":
        assert [i["id"] for i in folded] == [i["id"] for i in final]     # open items are cut, not closed
    else:
        assert folded == final


def test_parallel_calls_have_their_own_output_indexes():
    events = run(load("stream_parallel_tool_calls.json"))
    added = [(e["output_index"], e["item"]["call_id"]) for e in events
             if e["type"] == "response.output_item.added" and e["item"]["type"] == "function_call"]
    assert added == [(1, "toolu_01Paris"), (2, "toolu_02Rome")]
    done = [e["output_index"] for e in events if e["type"] == "response.function_call_arguments.done"]
    assert done == [1, 2]


def test_reasoning_closes_before_the_message_and_carries_the_signature():
    events = run(load("stream_reasoning_signature.json"))
    kinds = [e["type"] for e in events]
    assert kinds.index("response.output_item.done") < kinds.index("response.content_part.added")
    reasoning = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("sy1.")


def test_max_tokens_ends_incomplete():
    events = run(load("stream_max_tokens.json"))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"


def test_fail_after_the_first_byte():
    events = run(load("stream_failed.json"))
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["code"] == "provider_unavailable"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert failed["output"][0]["status"] == "incomplete"
    assert failed["output"][0]["content"][0]["text"] == "Paris is"


@pytest.mark.parametrize("error, code", [(exc.RateLimited(), "rate_limit_exceeded"),
                                         (exc.InvalidRequest("bad", param="input"), "invalid_prompt"),
                                         (exc.Timeout(), "server_error")])
def test_failed_error_codes_are_the_schema_enum(error, code):
    stream = ResponsesStream({"model": "m", "input": "x"}, response_id=RID, clock=lambda: NOW)
    events = stream.fail(error)
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert events[-1]["response"]["error"]["code"] == code and events[2]["param"] == error.param
    for event in events:
        assert_valid(event, "ResponseStreamEvent")
    assert stream.finish() == [] and stream.feed({"choices": []}) == []       # nothing after the end


def test_start_once_and_feed_starts():
    stream = ResponsesStream({"model": "m", "input": "x"}, response_id=RID, clock=lambda: NOW)
    assert len(stream.start()) == 2 and stream.start() == []
    other = ResponsesStream({"model": "m", "input": "x"}, response_id=RID, clock=lambda: NOW)
    first = other.feed({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]})
    assert [e["sequence_number"] for e in first] == list(range(len(first)))
    assert first[0]["type"] == "response.created"


def test_arguments_for_a_closed_call_are_the_providers_fault():
    stream = ResponsesStream({"model": "m", "input": "x"}, response_id=RID, clock=lambda: NOW)

    def call(index, **fields):
        return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **fields}]}, "finish_reason": None}]}

    stream.feed(call(0, id="call_a", type="function", function={"name": "f", "arguments": ""}))
    stream.feed(call(1, id="call_b", type="function", function={"name": "g", "arguments": "{}"}))
    with pytest.raises(exc.ProviderUnavailable):
        stream.feed(call(0, function={"arguments": "{}"}))


def test_reasoning_cut_by_the_token_limit():
    request = {"model": "m", "input": "x", "max_output_tokens": 16}
    stream = ResponsesStream(request, response_id=RID, clock=lambda: NOW)
    chunks = [{"choices": [{"index": 0, "delta": {"reasoning_content": "Let me think"}, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
              {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21,
                                        "completion_tokens_details": {"reasoning_tokens": 16}}}]
    events = [e for c in chunks for e in stream.feed(c)] + stream.finish()
    for event in events:
        assert_valid(event, MEMBERS[event["type"]])
    part_done = next(e for e in events if e["type"] == "response.reasoning_summary_part.done")
    assert part_done["status"] == "incomplete"
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.incomplete" and [i["type"] for i in final["output"]] == ["reasoning"]
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 16
    assert final == from_chat(fold_chunks(chunks), request, response_id=RID, created_at=NOW, completed_at=NOW)
