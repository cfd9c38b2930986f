"""POST /v1/chat/completions routed to Gemini, through a live gateway and the provider double (openai SDK),
non-streaming."""
import re
from decimal import Decimal

import openai
import pytest
import requests

from tests.support.double_gemini import SIGNATURE
from tests.support.logs import log_row as _log_row
from tests.support.openapi import assert_valid

MODEL = "gemini/gemini-2.5-flash"
UPSTREAM = "gemini-2.5-flash"
PATH = f"/gemini/v1beta/models/{UPSTREAM}:generateContent"
HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                            "parameters": {"type": "object", "additionalProperties": False,
                                                           "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}]
DECLARATION = {"name": "get_weather", "description": "Weather for a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _raw_post(live, api_key, body: dict) -> requests.Response:
    return requests.post(f"{live.url}/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                         json=body, timeout=20)



def test_plain_answer(client, double, live, api_key):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."}] + HELLO, temperature=0.2, stop=["END"],
        max_tokens=64)
    completion = raw.parse()
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason, completion.model) == ("Echo: Hello", "stop", MODEL)
    assert completion.id == "chatcmpl-dblResp123"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == \
        (12, 5, 17)
    sent = double.last()
    assert sent.path == PATH
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert headers["x-goog-api-key"] == "test-gemini-key" and "authorization" not in headers
    assert sent.body == {"systemInstruction": {"parts": [{"text": "Be brief."}]},
                         "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
                         "generationConfig": {"temperature": 0.2, "stopSequences": ["END"], "maxOutputTokens": 64}}
    assert raw.headers["x-gateway-provider"] == "gemini" and raw.headers["x-gateway-model"] == UPSTREAM
    resp = _raw_post(live, api_key, {"model": MODEL, "messages": HELLO})
    assert resp.status_code == 200, resp.text
    assert_valid(resp.json(), "CreateChatCompletionResponse")


def test_tool_round_trip(client, double, live, api_key):
    first = client.chat.completions.create(model=MODEL, messages=HELLO, tools=TOOLS, tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert re.fullmatch(r"call_[0-9a-f]{24}", call.id)
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    assert double.last().body["tools"] == [{"functionDeclarations": [DECLARATION]}]
    assert double.last().body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    again = client.chat.completions.create(model=MODEL, messages=HELLO, tools=TOOLS, tool_choice="auto")
    assert again.choices[0].message.tool_calls[0].id == call.id          # the invented id is stable

    history = HELLO + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                       {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    second = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=history)
    assert second.choices[0].message.content == "The tool said: 18C and sunny"
    assert second.choices[0].finish_reason == "stop"
    assert double.last().body["contents"] == [
        {"role": "user", "parts": [{"text": "Hello"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                         "response": {"result": "18C and sunny"}}}]}]
    resp = _raw_post(live, api_key, {"model": MODEL, "tools": TOOLS, "messages": history})
    assert_valid(resp.json(), "CreateChatCompletionResponse")


@pytest.mark.parametrize("keep_extra", [True, False], ids=["extra_content", "id-only"])
def test_gemini3_thought_signature_round_trips(client, double, keep_extra):
    """Gemini 3 refuses a function call sent back without its signature (the double checks it like Google)."""
    model = "gemini/gemini-3-flash-preview"
    first = client.chat.completions.create(model=model, messages=HELLO, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert call.id.endswith(f"__thought__{SIGNATURE}")
    assert call.model_extra["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
    sent_call = call.model_dump() if keep_extra else {"id": call.id, "type": "function",
                                                      "function": call.function.model_dump()}
    history = HELLO + [{"role": "assistant", "content": None, "tool_calls": [sent_call]},
                       {"role": "tool", "tool_call_id": call.id, "content": "{\"temp_c\": 18}"}]
    second = client.chat.completions.create(model=model, tools=TOOLS, messages=history)
    assert second.choices[0].message.content == 'The tool said: {"temp_c": 18}'
    model_turn = double.last().body["contents"][1]["parts"][0]
    assert model_turn == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                          "thoughtSignature": SIGNATURE}


def test_image_input(client, double):
    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photos/cat.jpeg"}}]}])
    assert completion.choices[0].message.content == "Echo: What is in these?"
    assert double.last().body["contents"] == [{"role": "user", "parts": [
        {"text": "What is in these?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photos/cat.jpeg"}}]}]


def test_unreadable_image_url_is_a_400_naming_it(client, double):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/image"}}]}])
    assert info.value.body["param"] == "messages[0].content[0].image_url.url"
    assert double.calls[UPSTREAM] == 0


def test_reasoning_suffix_sets_the_thinking_config(client, double):
    completion = client.chat.completions.create(model=f"{MODEL}:low", messages=HELLO)
    sent = double.last()
    assert sent.path == PATH
    assert sent.body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    message = completion.choices[0].message
    assert message.content == "Echo: Hello"
    assert message.model_extra["reasoning_content"] == "Thinking about the question."
    assert completion.model == f"{MODEL}:low"


def test_cost_header_counts_cached_and_thought_tokens(client, double, services):
    double.enqueue(UPSTREAM, {"body": {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Done."}]}, "finishReason": "STOP",
                        "index": 0}],
        "usageMetadata": {"promptTokenCount": 10000, "cachedContentTokenCount": 4000, "candidatesTokenCount": 1000,
                          "thoughtsTokenCount": 3000, "totalTokenCount": 14000},
        "modelVersion": UPSTREAM, "responseId": "cost1"}})
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    usage = raw.parse().usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10000, 4000, 14000)
    assert usage.prompt_tokens_details.cached_tokens == 4000
    assert usage.completion_tokens_details.reasoning_tokens == 3000
    # 6000 fresh input x 0.30 + 4000 cached x 0.075 + (1000 visible + 3000 thought) output x 2.50, per million
    expected = (Decimal(6000) * Decimal("0.30") + Decimal(4000) * Decimal("0.075")
                + Decimal(4000) * Decimal("2.50")) / 10**6
    assert raw.headers["x-gateway-cost-usd"] == f"{expected:.6f}" == "0.012100"
    row = _log_row(services, raw.headers["x-request-id"])
    assert row.cost_usd == expected and row.cached_tokens == 4000 and row.completion_tokens == 4000


def _google_error(code: int, status: str, message: str) -> dict:
    return {"status": code, "body": {"error": {"code": code, "message": message, "status": status}}}


def test_upstream_503_is_provider_unavailable(client, double):
    model = "gemini-2.5-flash-lite"           # its own target, so the breaker state of the others is untouched
    double.enqueue(model, *[_google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")]
                   * 4)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=f"gemini/{model}", messages=HELLO)
    assert info.value.status_code == 502
    assert info.value.body["code"] == "provider_unavailable"
    assert "The model is overloaded." in info.value.body["message"]
    assert double.calls[model] >= 1


def test_upstream_429_is_rate_limited(client, double):
    model = "gemini-2.0-flash"
    double.enqueue(model, *[_google_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please "
                                          "check your plan and billing details.")] * 4)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=f"gemini/{model}", messages=HELLO)
    assert info.value.status_code == 429
    assert info.value.body["code"] == "rate_limited"
    assert "You exceeded your current quota" in info.value.body["message"]


def test_upstream_400_is_invalid_request_with_googles_message(client, double):
    message = ("Invalid JSON payload received. Unknown name \"foo\" at 'generation_config': Cannot find field.")
    double.enqueue(UPSTREAM, _google_error(400, "INVALID_ARGUMENT", message))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert info.value.status_code == 400
    assert info.value.body["code"] == "invalid_request" and info.value.body["message"] == message
    assert double.calls[UPSTREAM] == 1                   # not retried


def test_parameters_gemini_lacks_are_a_400_naming_them(client, double):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=HELLO, logit_bias={"50256": -100})
    assert info.value.body["param"] == "logit_bias"
    assert double.calls[UPSTREAM] == 0
