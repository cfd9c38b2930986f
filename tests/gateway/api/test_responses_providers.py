"""/v1/responses with the official OpenAI SDK, per provider: OpenAI natively (its own Responses API on the double),
Anthropic, Gemini and an OpenAI-compatible chat server translated. For each: instructions, a reasoning summary
(answer and stream), structured output, the SDK's stream helper, and the agent loop frameworks run (function call,
function_call_output, final answer), streamed and not, with thinking on, continued by previous_response_id."""
import json

import pytest
import requests
from pydantic import BaseModel

from tests.support.double import openai_completion
from tests.support.double_anthropic import THOUGHT, message
from tests.support.openapi import assert_valid

NATIVE, ANTHROPIC, GEMINI, LOCAL = ("openai/o3-pro", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash",
                                    "local/tuned")
MODELS = [NATIVE, ANTHROPIC, GEMINI, LOCAL]
UPSTREAM = {NATIVE: "o3-pro", ANTHROPIC: "claude-sonnet-4-5", GEMINI: "gemini-2.5-flash", LOCAL: "tuned-7b"}
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
THINK = {"reasoning": {"effort": "low", "summary": "auto"}}
SUMMARY = {NATIVE: "Thinking about: Hello", ANTHROPIC: THOUGHT, GEMINI: "Thinking about the question.",
           LOCAL: "Thinking locally."}


class City(BaseModel):
    city: str


def _local_reasoning(double, stream: bool) -> None:
    """The chat server's answer with its reasoning_content (the OpenAI double sends none unless scripted)."""
    if not stream:
        body = openai_completion("tuned-7b", "Echo: Hello")
        body["choices"][0]["message"]["reasoning_content"] = SUMMARY[LOCAL]
        double.enqueue("tuned-7b", {"body": body})
        return
    base = {"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": 1, "model": "tuned-7b"}
    deltas = [({"role": "assistant", "reasoning_content": SUMMARY[LOCAL]}, None), ({"content": "Echo: "}, None),
              ({"content": "Hello"}, None), ({}, "stop")]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": f}]} for d, f in deltas]
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})
    double.enqueue("tuned-7b", {"stream": [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
                                + [b"data: [DONE]\n\n"]})


def _upstream(double, model: str):
    return [r for r in double.requests if UPSTREAM[model] in (r.path + json.dumps(r.body or {}))][-1]


@pytest.mark.parametrize("model", MODELS)
def test_instructions_reach_the_provider_as_its_system_prompt(client, double, model):
    resp = client.responses.create(model=model, input="Hello", instructions="Answer in French.")
    assert resp.instructions == "Answer in French." and resp.output_text == "Echo: Hello"
    sent = _upstream(double, model).body
    if model == NATIVE:
        assert sent["instructions"] == "Answer in French."
    elif model == ANTHROPIC:
        assert "Answer in French." in json.dumps(sent["system"])
    elif model == GEMINI:
        assert sent["systemInstruction"]["parts"][0]["text"] == "Answer in French."
    else:
        assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}


@pytest.mark.parametrize("model", MODELS)
def test_a_reasoning_summary_in_the_answer(client, double, model):
    if model == LOCAL:
        _local_reasoning(double, stream=False)
    raw = client.responses.with_raw_response.create(model=model, input="Hello", **THINK)
    assert_valid(json.loads(raw.http_response.content), "Response")
    resp = raw.parse()
    reasoning = [o for o in resp.output if o.type == "reasoning"]
    assert reasoning and reasoning[0].summary[0].text == SUMMARY[model]
    assert resp.output_text == "Echo: Hello"


@pytest.mark.parametrize("model", MODELS)
def test_a_reasoning_summary_streams_as_its_own_events(live, api_key, double, model):
    if model == LOCAL:
        _local_reasoning(double, stream=True)
    events = []
    with requests.post(f"{live.url}/v1/responses", stream=True, timeout=20,
                       headers={"Authorization": f"Bearer {api_key}"},
                       json={"model": model, "input": "Hello", "stream": True, **THINK}) as r:
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    for e in events:
        assert_valid(e, "ResponseStreamEvent")
    kinds = [e["type"] for e in events]
    for kind in ("response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
                 "response.reasoning_summary_text.done", "response.output_text.delta", "response.completed"):
        assert kind in kinds, kind
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
    summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert summary == SUMMARY[model]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def _structured_reply(double, model: str) -> None:
    text = json.dumps({"city": "Paris"})
    if model == ANTHROPIC:
        double.enqueue("claude-sonnet-4-5", {"body": message("claude-sonnet-4-5", [{"type": "text", "text": text}])})
    elif model == GEMINI:
        double.enqueue("gemini-2.5-flash", {"body": {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11},
            "modelVersion": "gemini-2.5-flash"}})
    elif model == LOCAL:
        double.enqueue("tuned-7b", {"body": openai_completion("tuned-7b", text)})
    # NATIVE: the double answers an instance of the schema itself


@pytest.mark.parametrize("model", MODELS)
def test_structured_output_is_parsed_by_the_sdk(client, double, model):
    _structured_reply(double, model)
    raw = client.responses.with_raw_response.parse(model=model, input="Which city is the capital of France?",
                                                   text_format=City)
    assert_valid(json.loads(raw.http_response.content), "Response")
    resp = raw.parse()
    assert resp.output_parsed == City(city="Paris")
    assert resp.text.format.type == "json_schema"
    sent = _upstream(double, model).body
    if model == NATIVE:
        assert sent["text"]["format"]["type"] == "json_schema" and sent["text"]["format"]["strict"] is True
    elif model == ANTHROPIC:
        assert sent["output_config"]["format"]["type"] == "json_schema"
    elif model == GEMINI:
        config = sent["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert "responseJsonSchema" in config or "responseSchema" in config
    else:
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["city"]


@pytest.mark.parametrize("model", MODELS)
def test_the_sdk_stream_helper_reads_every_provider(client, model):
    with client.responses.stream(model=model, input="Hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Echo: Hello"
    assert final.status == "completed" and final.usage.output_tokens > 0


def _create(client, stream: bool, **kw):
    if not stream:
        raw = client.responses.with_raw_response.create(**kw)
        assert_valid(json.loads(raw.http_response.content), "Response")
        return raw.parse()
    with client.responses.stream(**kw) as s:
        for _ in s:
            pass
        return s.get_final_response()


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_an_agent_loop_continued_by_previous_response_id(client, double, model, stream):
    kw = THINK if model in (ANTHROPIC, GEMINI, NATIVE) else {}
    first = _create(client, stream, model=model, input="Weather in Paris?", tools=[WEATHER], **kw)
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments) == {"city": "Paris"}
    if kw:
        assert [o for o in first.output if o.type == "reasoning"][0].summary
    follow = _create(client, stream, model=model, previous_response_id=first.id, tools=[WEATHER], **kw,
                     input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}])
    assert follow.output_text == "The tool said: sunny" and follow.status == "completed"
    assert follow.previous_response_id == first.id
    sent = _upstream(double, model).body
    if model == NATIVE:                          # the stored chain is expanded: the upstream needs none of ours
        assert "previous_response_id" not in sent
        assert [i.get("type", "message") for i in sent["input"]][-2:] == ["function_call", "function_call_output"]
    elif model == ANTHROPIC:                     # the signed thinking block came back from the stored response
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert sent["messages"][1]["content"][0]["type"] == "thinking"
    elif model == GEMINI:
        assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    else:
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
