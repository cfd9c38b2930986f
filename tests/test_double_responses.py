"""The provider double's OpenAI Responses API (tests/support/double_responses.py), over HTTP: what it answers for
each kind of input, its stream's event sequence, its 401, and the helpers tests script it with; every body and
event checked against the official schema."""
import json

import jsonschema
import pytest
import requests

from tests.support.double_responses import ENCRYPTED, REASONING_TOKENS, instance_of, responses_body, \
    responses_stream
from tests.support.openapi import assert_valid

KEY = {"Authorization": "Bearer test-openai-key"}
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _post(double, body: dict, prefix: str = "openai", headers=KEY) -> requests.Response:
    return requests.post(f"{double.url}/{prefix}/v1/responses", json=body, headers=headers, timeout=10)


def _answer(double, body: dict, prefix: str = "openai") -> dict:
    r = _post(double, body, prefix)
    assert r.status_code == 200, r.text
    assert_valid(r.json(), "Response")
    return r.json()


def _text(response: dict) -> str:
    return "".join(c["text"] for o in response["output"] if o["type"] == "message" for c in o["content"])


def _events(pieces) -> list[dict]:
    events = []
    for piece in pieces:
        text = piece.decode() if isinstance(piece, bytes) else piece
        name, data = text.split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        events.append(event)
    return events


def _stream(double, body: dict) -> tuple[requests.Response, list[dict]]:
    with requests.post(f"{double.url}/openai/v1/responses", json={**body, "stream": True}, headers=KEY,
                       stream=True, timeout=10) as r:
        raw = r.content.decode()
    assert "[DONE]" not in raw and raw.endswith("\n\n")
    return r, _events(raw.split("\n\n")[:-1])


@pytest.mark.parametrize("prefix", ["openai", "local", "xai"])
def test_a_string_input_is_echoed_with_the_settings(double, prefix):
    body = _answer(double, {"model": "gpt-4o-mini", "input": "Hello", "instructions": "Be brief.",
                            "temperature": 0.2, "metadata": {"k": "v"}, "user": "u1", "store": False}, prefix)
    assert _text(body) == "Echo: Hello"
    assert body["id"].startswith("resp_") and body["object"] == "response" and body["status"] == "completed"
    assert body["model"] == "gpt-4o-mini" and body["instructions"] == "Be brief."
    assert (body["temperature"], body["metadata"], body["user"], body["store"]) == (0.2, {"k": "v"}, "u1", False)
    assert body["tool_choice"] == "auto" and body["tools"] == [] and body["error"] is None
    assert body["incomplete_details"] is None and body["output"][0]["id"].startswith("msg_")
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert double.last().path == f"/{prefix}/v1/responses"


def test_a_list_input_answers_its_last_user_message(double):
    body = _answer(double, {"model": "gpt-4o-mini", "input": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "First"},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "Echo: First", "annotations": []}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Second "}, {"type": "input_image", "image_url": "https://x/y.png"},
            {"type": "input_text", "text": "part"}]},
        {"type": "item_reference", "id": "msg_stored"}]})
    assert _text(body) == "Echo: Second part"
    assert body["usage"] == _answer(double, {"model": "gpt-4o-mini", "input": json.loads(
        json.dumps(double.last().body["input"]))})["usage"]                     # the counts are deterministic


def test_a_function_call_then_its_output_is_read_back(double):
    first = _answer(double, {"model": "gpt-4o-mini", "input": "Weather in Paris?", "tools": [WEATHER],
                             "parallel_tool_calls": False})
    [call] = first["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather" and call["status"] == "completed"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["call_id"] == "call_double_1" and call["id"].startswith("fc_")
    assert first["tools"][0]["name"] == "get_weather" and first["parallel_tool_calls"] is False
    follow = _answer(double, {"model": "gpt-4o-mini", "tools": [WEATHER], "input": [
        {"role": "user", "content": "Weather in Paris?"}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]})
    assert _text(follow) == "The tool said: sunny"
    no_tools = _answer(double, {"model": "gpt-4o-mini", "input": "Hi", "tools": [WEATHER], "tool_choice": "none"})
    assert _text(no_tools) == "Echo: Hi" and no_tools["tool_choice"] == "none"


def test_reasoning_comes_first_with_its_summary_and_encrypted_content(double):
    body = _answer(double, {"model": "o4-mini", "input": "Weather?", "tools": [WEATHER],
                            "reasoning": {"effort": "low", "summary": "auto"},
                            "include": ["reasoning.encrypted_content"]})
    reasoning, call = body["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Thinking about: Weather?"}]
    assert reasoning["encrypted_content"] == ENCRYPTED and call["type"] == "function_call"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    usage = body["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == REASONING_TOKENS < usage["output_tokens"]
    plain = _answer(double, {"model": "o4-mini", "input": "Hi", "reasoning": {"effort": "medium"}})
    assert plain["output"][0] == {"id": plain["output"][0]["id"], "type": "reasoning", "summary": []}
    assert _text(plain) == "Echo: Hi"
    off = _answer(double, {"model": "gpt-5", "input": "Hi", "reasoning": {"effort": "none"}})
    assert [o["type"] for o in off["output"]] == ["message"]
    assert off["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


def test_json_schema_output_validates_against_its_schema(double):
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "days", "tags", "unit"],
              "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                             "temp": {"type": ["number", "null"]}, "tags": {"type": "array", "items": {
                                 "$ref": "#/$defs/tag"}}, "unit": {"enum": ["C", "F"]},
                             "ok": {"type": "boolean"}},
              "$defs": {"tag": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
                                "additionalProperties": False}}}
    body = _answer(double, {"model": "gpt-4o-mini", "input": "Weather?", "text": {"format": {
        "type": "json_schema", "name": "weather", "schema": schema, "strict": True}}})
    doc = json.loads(_text(body))
    jsonschema.validate(doc, schema)
    assert doc == {"city": "Paris", "days": 1, "temp": 1.5, "tags": [{"name": "Paris"}], "unit": "C", "ok": True}
    assert body["text"]["format"]["name"] == "weather"
    loose = _answer(double, {"model": "gpt-4o-mini", "input": "Hi", "text": {"format": {"type": "json_object"}}})
    assert json.loads(_text(loose)) == {"echo": "Hi"}


def test_the_instance_generator_on_bounds_and_combinators():
    schema = {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 3}, "s": {"type": "string", "maxLength": 2},
        "l": {"type": "array", "minItems": 2, "items": {"type": "number", "maximum": 1}},
        "a": {"allOf": [{"properties": {"x": {"const": "k"}}}, {"required": ["y"]}]}}}]}
    value = instance_of(schema)
    jsonschema.validate(value, schema)
    assert value == {"n": 3, "s": "Pa", "l": [1, 1], "a": {"x": "k", "y": "Paris"}}


def test_a_small_budget_is_incomplete_and_cut(double):
    body = _answer(double, {"model": "gpt-4o-mini", "input": "Hello there, a long question", "max_output_tokens": 2})
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert _text(body) == "Echo: He" and body["output"][0]["status"] == "incomplete"
    assert body["usage"]["output_tokens"] == 2 and body["max_output_tokens"] == 2
    thinking = _answer(double, {"model": "o4-mini", "input": "Hi", "max_output_tokens": 3,
                                "reasoning": {"effort": "high"}})
    assert [o["type"] for o in thinking["output"]] == ["reasoning"] and thinking["status"] == "incomplete"
    assert thinking["usage"]["output_tokens"] == thinking["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


def test_a_stream_has_openais_event_sequence(double):
    r, events = _stream(double, {"model": "o4-mini", "input": "Hello", "reasoning": {"effort": "low",
                                                                                     "summary": "auto"}})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
    for e in events:
        assert_valid(e, "ResponseStreamEvent")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    n_summary = kinds.count("response.reasoning_summary_text.delta")
    n_text = kinds.count("response.output_text.delta")
    assert n_summary >= 2 and n_text >= 2
    assert kinds[2:] == [
        "response.output_item.added", "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * n_summary, "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", *["response.output_text.delta"] * n_text,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"]
    final = events[-1]["response"]
    assert_valid(final, "Response")
    summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert summary == final["output"][0]["summary"][0]["text"] == "Thinking about: Hello"
    assert text == _text(final) == "Echo: Hello"
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert {(e["item_id"], e["output_index"], e["content_index"]) for e in deltas} == {(final["output"][1]["id"], 1, 0)}
    assert final["usage"]["output_tokens"] > 0 and final["status"] == "completed"


def test_a_streamed_function_call_and_an_incomplete_stream(double):
    _, events = _stream(double, {"model": "gpt-4o-mini", "input": "Weather?", "tools": [WEATHER]})
    for e in events:
        assert_valid(e, "ResponseStreamEvent")
    kinds = [e["type"] for e in events]
    assert "response.function_call_arguments.delta" in kinds and kinds[-1] == "response.completed"
    args = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert args == done["arguments"] == events[-1]["response"]["output"][0]["arguments"]
    assert done["name"] == "get_weather"
    _, cut = _stream(double, {"model": "gpt-4o-mini", "input": "Hello there", "max_output_tokens": 1})
    for e in cut:
        assert_valid(e, "ResponseStreamEvent")
    assert cut[-1]["type"] == "response.incomplete"
    assert cut[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_wrong_key_is_a_401_in_openais_error_shape(double):
    for headers in ({"Authorization": "Bearer nope"}, {}):
        r = _post(double, {"model": "gpt-4o-mini", "input": "x"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert_valid(r.json(), "ErrorResponse")
    r = _post(double, {"input": "x"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    assert_valid(r.json(), "ErrorResponse")


def test_replies_are_scripted_with_the_helpers(double):
    scripted = responses_body({"model": "gpt-4o-mini", "input": "ignored"})
    scripted["output"][0]["content"][0]["text"] = "Scripted."
    double.enqueue("gpt-4o-mini", {"body": scripted}, {"stream": responses_stream(scripted)[:-1]})
    assert _text(_answer(double, {"model": "gpt-4o-mini", "input": "Hello"})) == "Scripted."
    _, events = _stream(double, {"model": "gpt-4o-mini", "input": "Hello"})        # cut before the end
    assert events[-1]["type"] == "response.output_item.done"
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "Scripted."
    assert _text(_answer(double, {"model": "gpt-4o-mini", "input": "Hello"})) == "Echo: Hello"   # queue empty
    assert double.calls["gpt-4o-mini"] == 3
