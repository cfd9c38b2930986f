"""Golden tests of the chat.completion -> Responses `response` translation, from recorded fixtures, and the
signature round trip: the output items handed back as the next input give the adapters what they gave us."""
import json
import pathlib

import pytest

from gateway.responses import from_chat, to_chat
from gateway.responses.response import new_response_id
from tests.support.openapi import assert_valid

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "responses"
RESPONSES = sorted(p.name for p in FIXTURES.glob("response_*.json"))
RID = "resp_68a1f0c2d4e08190a1b2c3d4e5f60718"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def translate(fx: dict) -> dict:
    return from_chat(fx["completion"], fx["request"], response_id=RID, created_at=1754000400, completed_at=1754000402)


def test_enough_response_fixtures():
    assert len(RESPONSES) >= 6


@pytest.mark.parametrize("name", RESPONSES)
def test_response_golden(name):
    fx = load(name)
    got = translate(fx)
    assert got == fx["response"]
    assert_valid(got, "Response")
    assert "output_text" not in got                   # SDK-only convenience property, computed by the SDK
    assert got["model"] == fx["request"]["model"]      # what the client asked for
    usage = fx["completion"]["usage"]
    assert got["usage"]["input_tokens"] == usage["prompt_tokens"]
    assert got["usage"]["output_tokens"] == usage["completion_tokens"]
    assert got["usage"]["total_tokens"] == usage["total_tokens"]


def test_text_and_the_echoed_settings():
    got = translate(load("response_text.json"))
    assert [i["type"] for i in got["output"]] == ["message"]
    assert got["output"][0]["content"] == [{"type": "output_text", "text": "Paris.", "annotations": [],
                                            "logprobs": []}]
    assert (got["status"], got["instructions"], got["temperature"], got["max_output_tokens"], got["user"]) == (
        "completed", "Be brief.", 0.2, 100, "u-1")
    assert got["truncation"] == "disabled" and got["error"] is None and got["incomplete_details"] is None


def test_status_follows_finish_reason():
    cut, filtered = translate(load("response_max_tokens.json")), translate(load("response_content_filter.json"))
    assert (cut["status"], cut["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert [i.get("status") for i in cut["output"]] == [None, "incomplete"]   # reasoning items carry no status
    assert (filtered["status"], filtered["incomplete_details"]) == ("incomplete", {"reason": "content_filter"})
    assert filtered["output"][0]["content"] == [{"type": "refusal",
                                                 "refusal": "This request was refused due to policy."}]


def test_parallel_calls_each_an_item_in_order():
    got = translate(load("response_reasoning_parallel_calls.json"))
    assert [i["type"] for i in got["output"]] == ["reasoning", "message", "function_call", "function_call"]
    calls = [i for i in got["output"] if i["type"] == "function_call"]
    assert [c["call_id"] for c in calls] == ["toolu_01Paris", "toolu_02Rome"]
    assert len({i["id"] for i in got["output"]}) == 4 and all(c["id"].startswith("fc_") for c in calls)


def _next_turn(fx: dict, got: dict, outputs: dict[str, str]) -> dict:
    """The follow-up request an agent framework sends: the previous input, the output items, the results."""
    items = [{"role": "user", "content": fx["request"]["input"]}] + got["output"]
    items += [{"type": "function_call_output", "call_id": cid, "output": out} for cid, out in outputs.items()]
    return to_chat({"model": fx["request"]["model"], "input": items, "tools": fx["request"].get("tools", []),
                    "reasoning": fx["request"].get("reasoning")}).chat


def test_anthropic_signature_round_trip():
    fx = load("response_reasoning_parallel_calls.json")
    got = translate(fx)
    assert "EqQBCkYIBxgCKkB0c2lnbmF0dXJlX29wYXF1ZQ==" not in json.dumps(got["output"][0]["summary"])
    chat = _next_turn(fx, got, {"toolu_01Paris": "18C", "toolu_02Rome": "24C"})
    original = fx["completion"]["choices"][0]["message"]
    assistant = chat["messages"][1]
    assert assistant["thinking_blocks"] == original["thinking_blocks"]       # the signature, byte for byte
    assert assistant["tool_calls"] == original["tool_calls"]
    assert assistant["content"] == original["content"]
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "tool", "tool"]


def test_gemini_signature_round_trip():
    fx = load("response_gemini_signature.json")
    got = translate(fx)
    calls = [i for i in got["output"] if i["type"] == "function_call"]
    assert all(len(c["call_id"]) <= 64 for c in calls)     # a function_call_output's call_id allows 64 at most
    original = fx["completion"]["choices"][0]["message"]["tool_calls"]
    chat = _next_turn(fx, got, {c["call_id"]: "18C" for c in calls})
    back = chat["messages"][1]["tool_calls"]
    assert [c.get("extra_content") for c in back] == [c.get("extra_content") for c in original]
    assert back[0]["extra_content"] == {"google": {"thought_signature": "CiQBVKhc7sig+paris=="}}
    assert [m["tool_call_id"] for m in chat["messages"][2:]] == [c["id"] for c in back]


def test_ids_are_fresh_and_shaped():
    a, b = new_response_id(), new_response_id()
    assert a != b and a.startswith("resp_") and len(a) == 37
    fx = load("response_text.json")
    body = from_chat(fx["completion"], fx["request"])
    assert body["id"].startswith("resp_") and body["output"][0]["id"].startswith("msg_")
    assert_valid(body, "Response")
