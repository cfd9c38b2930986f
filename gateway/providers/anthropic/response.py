"""An Anthropic Message -> the OpenAI chat.completion body, its finish_reason and its Usage."""
import json
import time
from typing import Any

from gateway import exceptions as exc
from gateway.values import Completion, Usage

# Anthropic stop_reason -> OpenAI finish_reason (PROTOCOLS.md 5.6). None (absent) is a natural stop.
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",                       # a paused server-tool turn: the text so far is the answer
    "max_tokens": "length",
    "model_context_window_exceeded": "length",  # truncated by the context window, never a silent "stop"
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    None: "stop",
}


def finish_reason(stop_reason: Any) -> str:
    return FINISH.get(stop_reason, "stop")


def usage_from(raw: Any, prior: Usage | None = None) -> Usage | None:
    """Anthropic usage (input_tokens counts uncached input only) -> Usage with OpenAI's inclusive prompt count.

    `prior` carries what message_start reported when `raw` is a stream's message_delta usage, which may
    hold only output_tokens (cumulative) or may repeat the input counts (then they win)."""
    if not isinstance(raw, dict) or (prior is None and not isinstance(raw.get("input_tokens"), int)):
        return prior                                # unknown, never a made-up zero

    def count(name: str, before: int) -> int:
        value = raw.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else before

    base = prior or Usage()
    fresh = count("input_tokens", base.prompt_tokens - base.cached_tokens - base.cache_write_tokens)
    read = count("cache_read_input_tokens", base.cached_tokens)
    write = count("cache_creation_input_tokens", base.cache_write_tokens)
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    # cache_creation splits the writes by lifetime: 1-hour writes bill at their own rate (2x input, not 1.25x)
    split = raw.get("cache_creation")
    one_hour = split.get("ephemeral_1h_input_tokens") if isinstance(split, dict) else None
    write_1h = one_hour if isinstance(one_hour, int) and not isinstance(one_hour, bool) else base.cache_write_1h_tokens
    return Usage(prompt_tokens=fresh + read + write, completion_tokens=count("output_tokens", base.completion_tokens),
                 cached_tokens=read, cache_write_tokens=write,
                 reasoning_tokens=thinking if isinstance(thinking, int) else base.reasoning_tokens,
                 cache_write_1h_tokens=min(write_1h, write))


def tool_call(block: dict) -> dict:
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
    return {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}


def refusal_text(stop_reason: Any, stop_details: Any) -> str | None:
    if stop_reason == "refusal" and isinstance(stop_details, dict) and isinstance(stop_details.get("explanation"),
                                                                                   str):
        return stop_details["explanation"]
    return None


def parse(payload: Any, requested_model: str) -> Completion:
    if not isinstance(payload, dict) or payload.get("type") != "message" or not isinstance(
            payload.get("content"), list):
        raise exc.ProviderUnavailable("The provider sent an answer that is not an Anthropic message.")
    texts: list[str] = []
    thoughts: list[str] = []
    thinking_blocks: list[dict] = []
    tool_calls: list[dict] = []
    for block in payload["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            thoughts.append(block.get("thinking") or "")
            thinking_blocks.append({"type": "thinking", "thinking": block.get("thinking") or "",
                                    "signature": block.get("signature") or ""})
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data") or ""})
        elif kind == "tool_use":
            tool_calls.append(tool_call(block))
        # server-tool blocks never come back: the gateway offers no server tools
    stop_reason = payload.get("stop_reason")
    message: dict = {"role": "assistant", "content": "".join(texts) if texts else None,
                     "refusal": refusal_text(stop_reason, payload.get("stop_details"))}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
    msg_id = payload.get("id") if isinstance(payload.get("id"), str) else f"{time.time_ns():x}"
    body = {
        "id": f"chatcmpl-{msg_id}",
        "object": "chat.completion",
        "created": int(time.time()),            # Anthropic messages carry no timestamp
        "model": requested_model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(stop_reason),
                     "logprobs": None}],
    }
    usage = usage_from(payload.get("usage"))
    if usage is not None:
        body["usage"] = usage.as_openai()
    return Completion(body, usage)
