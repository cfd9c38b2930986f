"""Every provider streams as OpenAI SSE: the SDK's iterator joins text and tool calls into exactly the
non-streaming answer, with and without include_usage, and the usage and cost match."""
from decimal import Decimal

import pytest
import requests

from tests.gateway.api.test_chat_streaming import _sse_bodies
from tests.support.logs import log_row as _row
from tests.support.openapi import assert_valid

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
HELLO = [{"role": "user", "content": "Hello there"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}]


def _join(chunks):
    text, reasoning, calls, finish, usage = "", "", {}, None, None
    for c in chunks:
        if c.usage is not None:
            usage = c.usage
        for choice in c.choices:
            d = choice.delta
            text += d.content or ""
            reasoning += getattr(d, "reasoning_content", None) or ""
            for tc in d.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = tc.id or entry["id"]
                if tc.function:
                    entry["name"] = tc.function.name or entry["name"]
                    entry["arguments"] += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, calls, finish, usage


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_streamed_text_equals_the_answer(client, model, include_usage):
    full = client.chat.completions.create(model=model, messages=HELLO)
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(client.chat.completions.create(model=model, messages=HELLO, stream=True, **extra))
    text, calls, finish, usage = _join(chunks)
    assert text == full.choices[0].message.content and calls == {}
    assert finish == full.choices[0].finish_reason == "stop"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and {c.model for c in chunks} == {model}
    if include_usage:
        assert usage is not None and usage.model_dump() == full.usage.model_dump()
        assert chunks[-1].choices == []
    else:
        assert usage is None and all(c.choices for c in chunks)


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_calls_equal_the_answer(client, model):
    full = client.chat.completions.create(model=model, messages=HELLO, tools=TOOLS)
    text, calls, finish, _ = _join(client.chat.completions.create(model=model, messages=HELLO, tools=TOOLS,
                                                                  stream=True))
    want = {i: {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for i, c in enumerate(full.choices[0].message.tool_calls)}
    assert calls == want and finish == "tool_calls" == full.choices[0].finish_reason


@pytest.mark.parametrize("model", MODELS)
def test_stream_chunks_validate_and_the_log_row_is_priced(live, api_key, services, model):
    resp = requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"model": model, "messages": HELLO, "stream": True, "tools": TOOLS,
                               "stream_options": {"include_usage": True}})
    assert resp.status_code == 200 and resp.headers["x-gateway-provider"] == model.split("/")[0]
    events, comments = _sse_bodies(resp)
    for event in events:
        assert_valid(event, "CreateChatCompletionStreamResponse")
    row = _row(services, resp.headers["x-request-id"])
    assert row.stream and row.usage_known and row.cost_usd is not None and row.cost_usd > 0
    assert comments == [f": x-gateway-cost-usd={row.cost_usd.quantize(Decimal('0.000001'))}"]
