"""The provider's own Responses API (POST {base_url}/responses), for providers configured `responses: native`.

The client's body goes upstream as it came, except for what the gateway itself decides: the model id (the
target's upstream id), the reasoning effort (the slug suffix `:low|:medium|:high|:max` wins, mapped by the same
per-provider table as on chat, effort.py: `max` -> `xhigh` where the model has it; xAI's grok-4.20-multi-agent
takes low/medium = 4 agents, high/xhigh = 16) and `stream`. The answer is the provider's response object; its
usage is read by `usage_from_responses`. Stream events pass through one by one (the egress stamps our id and
model on them); the state keeps the usage of the terminal event. A `response.failed` or an `error` event, and a
stream that ends without a terminal event, raise the GatewayError they stand for. An error object (a failed
response's `error`, an `error` event: flat as documented, or with its fields nested under `error` as OpenAI
sends it) is read by its code: a rate limit is a 429, a fault of the request (invalid_prompt, an image error,
context_length_exceeded) a 400, anything else a 502; a code that is an HTTP status is that status.
"""
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.base import Adapter, StreamState
from gateway.providers.openai import effort, errors
from gateway.providers.openai.variants import variant_for
from gateway.sse import SSEEvent
from gateway.values import Completion, Target, UpstreamRequest, Usage

TERMINAL = {"response.completed": "stop", "response.incomplete": "length"}
_RATE_LIMITED = {"rate_limit_exceeded", "too_many_requests", "rate_limit_error"}
_BAD_REQUEST = {"invalid_prompt", "bio_policy", "data_residency_mismatch", "context_length_exceeded",
                "invalid_request_error"}


def _status_of(err: dict) -> int:
    for key in (err.get("code"), err.get("type")):
        if isinstance(key, int) and not isinstance(key, bool) and 400 <= key <= 599:
            return key
        if key in _RATE_LIMITED:
            return 429
        if isinstance(key, str) and (key in _BAD_REQUEST or "image" in key):
            return 400
    return 502


def error_of(err: Any) -> exc.GatewayError:
    """An upstream error object (code, message, param; or those nested under `error`) -> its GatewayError."""
    if isinstance(err, dict) and isinstance(err.get("error"), dict):
        err = err["error"]
    if not isinstance(err, dict):
        err = {"message": str(err)}
    return errors.from_answer(_status_of(err), {"error": err}, None)


def _count(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def usage_from_responses(raw: Any) -> Usage | None:
    """Responses usage -> Usage: input_tokens include cached_tokens, output_tokens include reasoning_tokens
    (OpenAI's rule); a provider whose total says reasoning came on top of output_tokens gets it added."""
    if not isinstance(raw, dict) or _count(raw.get("input_tokens")) is None:
        return None
    idet = raw.get("input_tokens_details") if isinstance(raw.get("input_tokens_details"), dict) else {}
    odet = raw.get("output_tokens_details") if isinstance(raw.get("output_tokens_details"), dict) else {}
    prompt, output = raw["input_tokens"], _count(raw.get("output_tokens")) or 0
    reasoning = _count(odet.get("reasoning_tokens")) or 0
    total = _count(raw.get("total_tokens"))
    if reasoning and total is not None and total == prompt + output + reasoning:
        output += reasoning
    return Usage(prompt_tokens=prompt, completion_tokens=output, cached_tokens=_count(idet.get("cached_tokens")) or 0,
                 cache_write_tokens=_count(idet.get("cache_write_tokens")) or 0, reasoning_tokens=reasoning)


def build_body(body: dict, target: Target, stream: bool) -> dict:
    out = dict(body)
    fields, _ = effort.resolve(body, target, variant_for(target), target.drop_unsupported)
    out.pop("reasoning_effort", None)                       # a chat field; the effort is in `reasoning` here
    level = fields.get("reasoning_effort") or (fields.get("reasoning") or {}).get("effort")
    own = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    if level:
        out["reasoning"] = {**own, "effort": level}
    elif "effort" in own:
        # not sent: dropped (the route's drop_unsupported) or `none` on a model that does not reason
        rest = {k: v for k, v in own.items() if k != "effort"}
        if rest:
            out["reasoning"] = rest
        else:
            out.pop("reasoning", None)
    out["model"] = target.upstream_model
    if stream:
        out["stream"] = True
    else:
        out.pop("stream", None)
        out.pop("stream_options", None)
    return out


def check_response(payload: Any) -> dict:
    """The provider's response object, or the error it stands for (an error object, a failed response)."""
    if not isinstance(payload, dict):
        raise exc.ProviderUnavailable("The provider sent an answer that is not a JSON object.")
    if payload.get("error"):
        raise error_of(payload["error"])
    if payload.get("object") != "response" or not isinstance(payload.get("output"), list):
        raise exc.ProviderUnavailable("The provider sent an answer that is not a Responses API response object.")
    return payload


class ResponsesAPIAdapter(Adapter):
    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        variant = variant_for(target)
        headers = {"Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json", **variant.headers}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        return UpstreamRequest("POST", f"{target.base_url.rstrip('/')}/responses", headers,
                               orjson.dumps(build_body(body, target, stream)))

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        response = check_response(payload)
        return Completion(response, usage_from_responses(response.get("usage")))

    def stream_state(self, target: Target) -> StreamState:
        return ResponsesAPIStreamState()

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        return errors.from_answer(status, payload, retry_after)


class ResponsesAPIStreamState(StreamState):
    """Upstream Responses events -> the same events (dicts), for the native egress to stamp and send."""

    def __init__(self):
        super().__init__()
        self.terminal: dict | None = None

    def feed(self, event: SSEEvent) -> list[dict]:
        data = event.data.strip()
        if not data or data == "[DONE]":
            return []
        payload = orjson.loads(data)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise exc.ProviderUnavailable("The provider sent a stream event without a type.")
        kind = payload["type"]
        if kind == "error":
            raise error_of(payload)
        response = payload.get("response")
        if kind == "response.failed":
            if isinstance(response, dict):
                self.usage = usage_from_responses(response.get("usage")) or self.usage
            err = response.get("error") if isinstance(response, dict) else None
            raise error_of(err) if err else exc.ProviderUnavailable("The provider's response failed.")
        if kind in TERMINAL and isinstance(response, dict):
            self.terminal = response
            self.usage = usage_from_responses(response.get("usage"))
            reason = (response.get("incomplete_details") or {}).get("reason")
            self.finish_reason = "content_filter" if reason == "content_filter" else TERMINAL[kind]
        return [payload]

    def finish(self) -> list[dict]:
        if self.terminal is None:
            raise exc.ProviderUnavailable("The provider's stream ended before response.completed.")
        return []
