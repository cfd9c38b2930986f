"""An OpenAI-compatible answer -> exactly OpenAI's chat.completion shape, its finish_reason and its Usage.

Filled in or normalised for every compatible server:
  * `message.refusal: null`, `choices[].logprobs: null`, `role: "assistant"`, an empty `tool_calls` left out,
    null extras (`audio`, `function_call`...) left out; tool calls get `type: "function"`, string arguments
    and an id when the server sent none;
  * reasoning text as `message.reasoning_content`: DeepSeek and xAI send it so already; OpenRouter, Groq and
    newer vLLM send `reasoning`; Mistral sends thinking chunks inside `content` (a list), which becomes text;
  * finish_reason: OpenAI's values pass; synonyms map (eos -> stop, model_length -> length...); the
    variant's failure reasons raise ProviderUnavailable; anything else is tool_calls or stop;
  * usage: missing or null -> None (unknown, never zero); DeepSeek's prompt_cache_hit_tokens stands in for a
    missing cached_tokens; xAI's reasoning_tokens, reported outside completion_tokens, are added back in.
"""
import hashlib
import time
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.base import error_in_body
from gateway.values import Completion, Usage

FINISH = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
OPENAI_MESSAGE_KEYS = frozenset({"role", "content", "refusal", "tool_calls", "annotations", "audio",
                                 "function_call"})
SERVICE_TIERS = frozenset({"auto", "default", "flex", "scale", "priority", "fast"})   # OpenAI's enum
SYNONYMS = {"eos": "stop", "eos_token": "stop", "end_turn": "stop", "stop_sequence": "stop",
            "max_tokens": "length", "model_length": "length", "tool_use": "tool_calls"}


def finish_reason(raw: Any, has_tool_calls: bool, variant) -> str:
    if not isinstance(raw, str):
        raw = None
    if raw in FINISH:
        return raw
    if raw in variant.finish_errors:
        raise exc.ProviderUnavailable(f"{variant.title} stopped the answer with finish_reason '{raw}'.")
    mapped = variant.finish.get(raw) or SYNONYMS.get(raw)
    if mapped:
        return mapped
    return "tool_calls" if has_tool_calls else "stop"


def split_content(parts: list) -> tuple[str | None, str | None]:
    """Mistral-style content chunks -> (text, thinking text); None where there was none."""
    texts, thoughts = [], []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            texts.append(part.get("text") or "")
        elif isinstance(part, dict) and part.get("type") == "thinking":
            inner = part.get("thinking")
            for piece in inner if isinstance(inner, list) else [inner]:
                if isinstance(piece, str):
                    thoughts.append(piece)
                elif isinstance(piece, dict) and isinstance(piece.get("text"), str):
                    thoughts.append(piece["text"])
    return ("".join(texts) if texts else None), ("".join(thoughts) if thoughts else None)


def reasoning_fields(message: dict) -> None:
    """Bring reasoning text to `reasoning_content` (in place), for a message or a stream delta."""
    content = message.get("content")
    if isinstance(content, list):
        text, thoughts = split_content(content)
        if text is None:
            message.pop("content")
        else:
            message["content"] = text
        if thoughts is not None:
            message["reasoning_content"] = (message.get("reasoning_content") or "") + thoughts
    if "reasoning" in message:
        reasoning = message.pop("reasoning")
        if isinstance(reasoning, str) and message.get("reasoning_content") is None:
            message["reasoning_content"] = reasoning
    if not isinstance(message.get("reasoning_content"), (str, type(None))):
        raise exc.ProviderUnavailable("The provider sent a reasoning_content that is not text.")


def tool_call(raw: Any, seed: str) -> dict:
    call = dict(raw) if isinstance(raw, dict) else {}
    call.pop("index", None)                                 # a stream field (Mistral sends it in answers too)
    call["type"] = call.get("type") or "function"
    fn = dict(call.get("function") or {})
    args = fn.get("arguments")
    if args is None:
        fn["arguments"] = "{}"
    elif not isinstance(args, str):
        fn["arguments"] = orjson.dumps(args).decode()       # some servers send the arguments as an object
    call["function"] = fn
    if not call.get("id"):                                  # stable: the same answer always gives the same id
        seed = f"{seed}:{fn.get('name')}:{fn['arguments']}"
        call["id"] = "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
    return call


def _message(raw: Any, seed: str) -> dict:
    message = dict(raw) if isinstance(raw, dict) else {}
    message["role"] = "assistant"
    reasoning_fields(message)
    message.setdefault("content", None)
    message.setdefault("refusal", None)
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        message["tool_calls"] = [tool_call(c, f"{seed}:{k}") for k, c in enumerate(calls)]
    else:
        message.pop("tool_calls", None)                    # typed SDKs expect the key absent rather than empty
    for k in [k for k, v in message.items() if k not in ("content", "refusal") and (
            v is None or (v is False and k not in OPENAI_MESSAGE_KEYS))]:
        del message[k]                                     # e.g. "function_call": null, Mistral's "prefix": false
    return message


def _choice(raw: Any, i: int, seed: str, variant) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    index = raw.get("index") if isinstance(raw.get("index"), int) else i
    message = _message(raw.get("message"), f"{seed}:{index}")
    return {"index": index, "message": message,
            "finish_reason": finish_reason(raw.get("finish_reason"), "tool_calls" in message, variant),
            "logprobs": raw.get("logprobs")}


def copy_extras(source: dict, out: dict) -> None:
    """system_fingerprint, and service_tier when it is one of OpenAI's (Groq answers "on_demand")."""
    if isinstance(source.get("system_fingerprint"), str):
        out["system_fingerprint"] = source["system_fingerprint"]
    if source.get("service_tier") in SERVICE_TIERS:
        out["service_tier"] = source["service_tier"]


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from_openai(raw: Any, variant=None) -> Usage | None:
    if not isinstance(raw, dict) or _count(raw.get("prompt_tokens")) is None:
        return None
    pd = raw.get("prompt_tokens_details") if isinstance(raw.get("prompt_tokens_details"), dict) else {}
    cd = raw.get("completion_tokens_details") if isinstance(raw.get("completion_tokens_details"), dict) else {}
    prompt = raw["prompt_tokens"]
    completion = _count(raw.get("completion_tokens")) or 0
    reasoning = _count(cd.get("reasoning_tokens")) or 0
    cached = _count(pd.get("cached_tokens"))
    if cached is None:
        cached = _count(raw.get("prompt_cache_hit_tokens")) or 0     # DeepSeek's own cache counters
    total = _count(raw.get("total_tokens"))
    if reasoning and (total == prompt + completion + reasoning if total is not None
                      else bool(variant and variant.completion_excludes_reasoning)):
        completion += reasoning               # OpenAI's rule: completion_tokens includes reasoning tokens
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                 cache_write_tokens=_count(pd.get("cache_write_tokens")) or 0, reasoning_tokens=reasoning)


def parse(payload: Any, requested_model: str, variant) -> Completion:
    if isinstance(payload, dict) and not isinstance(payload.get("choices"), list):
        err = error_in_body(payload)              # an error object that came with HTTP 200
        if err is not None:
            raise err
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        raise exc.ProviderUnavailable("The provider sent an answer that is not a chat completion.")
    upstream_id = payload.get("id") if isinstance(payload.get("id"), str) else ""
    body = {
        "id": upstream_id or f"chatcmpl-{time.time_ns():x}",
        "object": "chat.completion",
        "created": payload["created"] if _count(payload.get("created")) is not None else int(time.time()),
        "model": requested_model,
        "choices": [_choice(c, i, upstream_id, variant) for i, c in enumerate(payload["choices"])],
    }
    copy_extras(payload, body)
    usage = usage_from_openai(payload.get("usage"), variant)
    if usage is not None:
        body["usage"] = usage.as_openai()
    return Completion(body, usage)
