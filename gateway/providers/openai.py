"""OpenAI and every OpenAI-compatible server: near pass-through, with the OpenAI response shape filled in."""
import time
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.base import (Adapter, Completion, StreamState, Target, UpstreamRequest, Usage, _message_of,
                                    error_from_status)
from gateway.sse import SSEEvent

# Effort levels as the client names them -> the value OpenAI's `reasoning_effort` takes.
# `max` is OpenAI's newest top level ("xhigh" on models that predate "max").
_EFFORT = {"low": "low", "medium": "medium", "high": "high", "max": "xhigh"}

# Fields that are ours (the gateway reads them) and never go upstream as they are.
_GATEWAY_FIELDS = ("reasoning",)


def _effort_of(body: dict, target: Target) -> str | None:
    if target.effort:                       # the slug suffix wins
        return _EFFORT[target.effort]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        return reasoning["effort"]
    return None


class OpenAIAdapter(Adapter):
    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        out = dict(body)
        effort = _effort_of(body, target)
        for name in _GATEWAY_FIELDS:
            out.pop(name, None)
        if effort:
            out["reasoning_effort"] = effort
        out["model"] = target.upstream_model
        if stream:
            out["stream"] = True
            # usage must be known at the end of every stream: ask for it even when the client did not
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        return UpstreamRequest("POST", f"{target.base_url.rstrip('/')}/chat/completions", headers, orjson.dumps(out))

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            raise exc.ProviderUnavailable("The provider sent an answer that is not a chat completion.")
        body = {
            "id": payload.get("id") or f"chatcmpl-{time.time_ns():x}",
            "object": "chat.completion",
            "created": payload.get("created") if isinstance(payload.get("created"), int) else int(time.time()),
            "model": requested_model,
            "choices": [_choice(c, i) for i, c in enumerate(payload["choices"])],
        }
        for extra in ("system_fingerprint", "service_tier"):
            if payload.get(extra) is not None:
                body[extra] = payload[extra]
        usage = usage_from_openai(payload.get("usage"))
        if usage is not None:
            body["usage"] = usage.as_openai()
        return Completion(body, usage)

    def stream_state(self, target: Target, chunk_id: str, created: int, requested_model: str,
                     include_usage: bool) -> StreamState:
        return OpenAIStreamState(chunk_id, created, requested_model, include_usage)

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        param = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            param = payload["error"].get("param")
        return error_from_status(status, _message_of(payload), retry_after, param=param)


_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def _choice(raw: Any, i: int) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    msg = raw.get("message") if isinstance(raw.get("message"), dict) else {}
    message = dict(msg)
    message["role"] = "assistant"
    message.setdefault("content", None)
    message.setdefault("refusal", None)
    if message.get("tool_calls") == []:
        del message["tool_calls"]          # typed SDKs expect the key absent rather than empty
    for k in [k for k, v in message.items() if v is None and k not in ("content", "refusal")]:
        del message[k]                     # e.g. "function_call": null, "audio": null from compatible servers
    finish = raw.get("finish_reason")
    if finish not in _FINISH:
        finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {"index": raw.get("index", i) if isinstance(raw.get("index"), int) else i,
            "message": message, "finish_reason": finish, "logprobs": raw.get("logprobs")}


def usage_from_openai(raw: Any) -> Usage | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("prompt_tokens"), int):
        return None
    pd = raw.get("prompt_tokens_details") or {}
    cd = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens") or 0,
        completion_tokens=raw.get("completion_tokens") or 0,
        cached_tokens=(pd.get("cached_tokens") or 0) if isinstance(pd, dict) else 0,
        cache_write_tokens=(pd.get("cache_write_tokens") or 0) if isinstance(pd, dict) else 0,
        reasoning_tokens=(cd.get("reasoning_tokens") or 0) if isinstance(cd, dict) else 0,
    )


class OpenAIStreamState(StreamState):
    """OpenAI-compatible chunks pass through with our id, created and model; the usage chunk is kept aside."""

    def feed(self, event: SSEEvent) -> list[dict]:
        data = event.data
        if data == "[DONE]":
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise exc.ProviderUnavailable("The provider sent a stream event that is not JSON.") from None
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk:
            err = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            status = err.get("code") if isinstance(err.get("code"), int) else 502
            raise error_from_status(status if status >= 400 else 502, _message_of(chunk))
        usage = usage_from_openai(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return []                          # the usage chunk: the pipeline sends its own when asked
        chunk["id"] = self.id
        chunk["object"] = "chat.completion.chunk"
        chunk["created"] = self.created
        chunk["model"] = self.model
        if self.include_usage:
            chunk["usage"] = None
        else:
            chunk.pop("usage", None)
        for i, choice in enumerate(choices):
            if "finish_reason" not in choice:
                choice["finish_reason"] = None
            if "index" not in choice:
                choice["index"] = i
            if "delta" not in choice or choice["delta"] is None:
                choice["delta"] = {}
            if choice["finish_reason"] is not None:
                self.finish_reason = choice["finish_reason"]
        return [chunk]

    def finish(self) -> list[dict]:
        if self.finish_reason is None:
            raise exc.ProviderUnavailable("The provider's stream ended before the answer was finished.")
        return []
