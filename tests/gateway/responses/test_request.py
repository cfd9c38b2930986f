"""Golden tests of the Responses request -> canonical chat body translation, from recorded fixtures, and the
chat bodies fed to the real adapters (pure translation, no I/O) to show they read what the translation sets."""
import json
import pathlib

import orjson
import pytest

from gateway import exceptions as exc
from gateway.providers.anthropic import AnthropicAdapter
from gateway.providers.gemini import GeminiAdapter
from gateway.providers.openai import OpenAIAdapter
from gateway.responses import ChatRequest, to_chat
from gateway.values import Target
from tests.support.openapi import assert_valid

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "responses"
REQUESTS = sorted(p.name for p in FIXTURES.glob("request_*.json") if p.name != "request_errors.json")
ANTHROPIC = Target(provider="anthropic", provider_type="anthropic", base_url="https://api.anthropic.com/v1",
                   api_key="sk-ant-test", upstream_model="claude-sonnet-4-5", slug="anthropic/claude-sonnet-4-5")
GEMINI = Target(provider="gemini", provider_type="gemini", base_url="https://generativelanguage.googleapis.com/v1beta/",
                api_key="g-test", upstream_model="gemini-3-flash-preview", slug="gemini/gemini-3-flash-preview")
VLLM = Target(provider="vllm", provider_type="openai", base_url="http://127.0.0.1:8000/v1", api_key=None,
              upstream_model="qwen3-8b", slug="vllm/qwen3-8b")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def translate(fx: dict) -> ChatRequest:
    return to_chat(fx["request"], drop_unsupported=fx.get("drop_unsupported", False), history=fx.get("history"))


def test_enough_request_fixtures():
    assert len(REQUESTS) >= 8


@pytest.mark.parametrize("name", REQUESTS)
def test_request_golden(name):
    fx = load(name)
    if "error" in fx:
        with pytest.raises(exc.InvalidRequest) as caught:
            translate(fx)
        assert {"code": caught.value.code, "param": caught.value.param, "message": caught.value.message} == fx["error"]
        return
    got = translate(fx)
    assert got == ChatRequest(chat=fx["chat"], store=fx["store"], previous_response_id=fx["previous_response_id"],
                              include=fx["include"])
    assert_valid(got.chat, "CreateChatCompletionRequest")
    for field in ("store", "previous_response_id", "include", "input", "instructions", "text", "max_output_tokens"):
        assert field not in got.chat                        # the storage step's fields and the Responses names


@pytest.mark.parametrize("case", load("request_errors.json")["cases"], ids=lambda c: c["description"])
def test_untranslatable_is_a_400_naming_the_field(case):
    with pytest.raises(exc.InvalidRequest) as caught:
        to_chat(case["request"])
    assert caught.value.status == 400
    assert {"code": caught.value.code, "param": caught.value.param} == case["error"]


def test_builtin_tool_refused_then_dropped():
    refused, dropped = load("request_builtin_tool.json"), load("request_builtin_tool_dropped.json")
    assert refused["error"]["param"] == "tools[0].type"
    chat = translate(dropped).chat
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather"]
    assert "tool_choice" not in chat and "background" not in chat


def test_the_original_body_is_not_changed():
    fx = load("request_agent_turn_anthropic.json")
    before = json.dumps(fx["request"], sort_keys=True)
    translate(fx)
    assert json.dumps(fx["request"], sort_keys=True) == before


def _upstream(adapter, body: dict, target: Target, stream: bool = False) -> dict:
    return orjson.loads(adapter.build_request(body, target, stream).body)


def test_anthropic_gets_the_signature_back_and_the_system_prompt():
    chat = translate(load("request_agent_turn_anthropic.json")).chat
    out = _upstream(AnthropicAdapter(), chat, ANTHROPIC)
    assert out["system"] == [{"type": "text", "text": "You are a concise travel assistant."}]
    assistant = out["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {"type": "thinking", "thinking": "I need the weather tool for Paris.",
                                       "signature": "EqQBCkYIBxgCKkB0c2lnX3BhcmlzX29wYXF1ZQ=="}
    assert assistant["content"][1]["type"] == "tool_use" and assistant["content"][1]["id"] == "toolu_01Paris"
    assert out["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_01Paris",
                                                "content": "{\"temp_c\":18,\"sky\":\"cloudy\"}"}
    assert out["thinking"]["type"] in ("enabled", "adaptive")      # reasoning.effort reached the thinking control
    assert out["tool_choice"] == {"type": "auto"}


def test_anthropic_reads_max_output_tokens_and_stream():
    fx = load("request_instructions_params.json")
    chat = translate(fx).chat
    out = _upstream(AnthropicAdapter(), chat, ANTHROPIC, stream=True)
    assert out["max_tokens"] == 512 and out["stream"] is True
    assert out["metadata"] == {"user_id": "u-7"}


def test_gemini_gets_the_thought_signature_on_its_call():
    chat = translate(load("request_parallel_calls_gemini.json")).chat
    out = _upstream(GeminiAdapter(), chat, GEMINI)
    model_turn = next(c for c in out["contents"] if c["role"] == "model")
    calls = [p for p in model_turn["parts"] if "functionCall" in p]
    assert [c["functionCall"]["args"]["city"] for c in calls] == ["Paris", "Rome"]
    assert calls[0]["thoughtSignature"] == "EjQKMgEM_sigA"
    assert "thoughtSignature" not in calls[1]
    assert out["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}


def test_gemini_reads_effort_and_schema():
    chat = translate(load("request_reasoning_media.json")).chat
    target = Target(provider="gemini", provider_type="gemini", base_url=GEMINI.base_url, api_key="g",
                    upstream_model="gemini-2.5-flash", slug="gemini/gemini-2.5-flash")
    config = _upstream(GeminiAdapter(), chat, target)["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 24576, "includeThoughts": True}


def test_openai_compatible_server_gets_chat_names():
    chat = translate(load("request_json_schema.json")).chat
    out = _upstream(OpenAIAdapter(), {k: v for k, v in chat.items() if k != "verbosity"}, VLLM)
    assert out["response_format"]["type"] == "json_schema"
    assert out["response_format"]["json_schema"]["name"] == "weather"
    text = translate(load("request_text.json")).chat
    assert _upstream(OpenAIAdapter(), text, VLLM)["messages"] == [{"role": "user",
                                                                   "content": "Write a haiku about rivers."}]


def _refused(adapter, chat_request: ChatRequest, target: Target) -> str:
    with pytest.raises(exc.InvalidRequest) as caught:
        adapter.build_request(chat_request.chat, target)
    return chat_request.responses_param(caught.value.param)


def test_an_adapters_400_names_the_responses_field():
    parts = [{"type": "input_text", "text": "What is this?"},
             {"type": "input_image", "file_id": "file-abc", "detail": "auto"}]
    image = {"model": "m", "instructions": "Be brief.", "input": [{"role": "user", "content": parts}]}
    assert _refused(AnthropicAdapter(), to_chat(image), ANTHROPIC) == "input[0].content[1].file_id"
    verbose = {"model": "m", "input": "hi", "text": {"verbosity": "low"}}
    assert _refused(AnthropicAdapter(), to_chat(verbose), ANTHROPIC) == "text.verbosity"
    bad_args = {"model": "m", "input": [
        {"role": "user", "content": "hi"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Calling."}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{not json"},
        {"type": "function_call_output", "call_id": "c1", "output": "x"}]}
    assert _refused(GeminiAdapter(), to_chat(bad_args), GEMINI) == "input[2].arguments"


def test_param_names_map_back():
    fx = load("request_builtin_tool_dropped.json")
    got = translate(fx)
    assert got.responses_param("tools[0].function.strict") == "tools[1].strict"      # the built-in was left out
    assert got.responses_param("max_completion_tokens") == "max_output_tokens"
    assert got.responses_param("reasoning_effort") == "reasoning.effort"
    assert got.responses_param("response_format") == "text.format"
    assert got.responses_param("model") == "model" and got.responses_param(None) is None
    turn = translate(load("request_agent_turn_anthropic.json"))
    assert [turn.responses_param(f"messages[{i}]") for i in range(4)] == ["instructions", "input[0]", "input[1]",
                                                                          "input[3]"]
    assert turn.responses_param("messages[2].thinking_blocks[0]") == "input[1].encrypted_content"
    assert turn.responses_param("messages[2].tool_calls[0].function.arguments") == "input[2].arguments"
    assert turn.responses_param("messages[3].content") == "input[3].output"
    chained = translate(load("request_previous_response.json"))
    assert chained.responses_param("messages[2].tool_calls[0].id") == "previous_response_id"
    assert chained.responses_param("messages[3]") == "input[0]"


def test_every_field_of_the_official_request_is_decided():
    """Each CreateResponse property is translated, returned beside the body or refused by name: a field the
    official schema gains fails here until it is looked at (rather than being refused as unknown unnoticed)."""
    from gateway.responses import request as module
    from tests.support.openapi import spec

    schemas = spec()["components"]["schemas"]

    def props(name: str) -> set[str]:
        schema = schemas[name]
        out = set(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            out |= props(sub["$ref"].rsplit("/", 1)[-1]) if "$ref" in sub else set(sub.get("properties", {}))
        return out

    decided = set(module._RENAMES) | module._HANDLED | set(module._UNSUPPORTED)
    assert props("CreateResponse") - decided == set()
