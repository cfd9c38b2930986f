"""An OpenAI chat body -> the Gemini generateContent request (URL, headers, camelCase JSON body).

Plain renames live in `_RENAMES`; messages, tools, media and effort have their own modules. A parameter
Gemini has no equivalent for is an InvalidRequest naming it, or is left out when the route sets
`drop_unsupported`. Fields that only concern the gateway or OpenAI's own storage and do not change the
answer (`user`, `metadata`, `store`, `safety_identifier`, `prompt_cache_key`, `stream_options`, a
`service_tier` of auto/default, `image_url.detail`) are not sent. Route overrides are OpenAI-shaped
parameters the pipeline merges into the body before it gets here (pipeline.with_overrides).
"""
import orjson

from gateway.providers.base import refuse
from gateway.values import Target, UpstreamRequest
from gateway.providers.gemini.effort import thinking_config
from gateway.providers.gemini.messages import contents, system_instruction
from gateway.providers.gemini.schema import to_json_schema
from gateway.providers.gemini.tools import tools_and_config

# OpenAI name -> generationConfig name.
_RENAMES = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
            "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty", "n": "candidateCount",
            "max_completion_tokens": "maxOutputTokens", "logprobs": "responseLogprobs", "top_logprobs": "logprobs"}
# Read elsewhere (messages, tools, effort) or without effect on the answer.
_HANDLED = {"model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
            "functions", "function_call", "reasoning_effort", "reasoning", "max_tokens", "stop", "response_format",
            "modalities", "service_tier", "user", "metadata", "store", "safety_identifier", "prompt_cache_key",
            "prompt_cache_retention"}
# OpenAI parameters with no Gemini equivalent.
_LACKING = ("audio", "prediction", "verbosity", "web_search_options")
_KNOWN = _HANDLED | set(_RENAMES) | set(_LACKING) | {"logit_bias"}


def _unsupported(target: Target, param: str, message: str) -> None:
    refuse(target.drop_unsupported, message, param)


def _generation_config(body: dict, target: Target) -> dict:
    config = {new: body[old] for old, new in _RENAMES.items() if body.get(old) is not None}
    if "maxOutputTokens" not in config and body.get("max_tokens") is not None:
        config["maxOutputTokens"] = body["max_tokens"]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            config["responseMimeType"] = "application/json"
        elif fmt.get("type") == "json_schema":
            config["responseMimeType"] = "application/json"
            schema = (fmt.get("json_schema") or {}).get("schema")
            if schema:
                config["responseJsonSchema"] = to_json_schema(schema)
    modalities = body.get("modalities")
    if modalities and any(m != "text" for m in modalities):
        _unsupported(target, "modalities", "This gateway's Gemini chat route answers in text only.")
    thinking = thinking_config(body, target)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _check_unsupported(body: dict, target: Target) -> None:
    if body.get("logit_bias"):
        _unsupported(target, "logit_bias", "Gemini has no logit_bias.")
    for name in _LACKING:
        if body.get(name) is not None:
            _unsupported(target, name, f"Gemini has no equivalent of '{name}'.")
    if body.get("service_tier") not in (None, "auto", "default"):
        _unsupported(target, "service_tier", "Gemini has no equivalent of this service_tier.")
    for name in body:
        if name not in _KNOWN:
            _unsupported(target, name, f"Unknown parameter '{name}' for a Gemini model.")


def build_body(body: dict, target: Target) -> dict:
    _check_unsupported(body, target)
    messages = body.get("messages") or []
    out: dict = {"contents": contents(messages, target)}
    system = system_instruction(messages)
    if system:
        out["systemInstruction"] = system
    tools, tool_config = tools_and_config(body, target)
    if tools:
        out["tools"] = tools
        if tool_config:
            out["toolConfig"] = tool_config
    config = _generation_config(body, target)
    if config:
        out["generationConfig"] = config
    return out


def build_request(body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
    model = target.upstream_model.removeprefix("models/")
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    headers = {"Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}
    if target.api_key:
        headers["x-goog-api-key"] = target.api_key   # header, not ?key=, so keys stay out of URL logs
    return UpstreamRequest("POST", f"{target.base_url.rstrip('/')}/models/{model}:{action}", headers,
                           orjson.dumps(build_body(body, target)))
