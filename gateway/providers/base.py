"""The adapter contract: build_request, parse_response, stream state, parse_error; and the shared error table."""
from typing import Any

from gateway import exceptions as exc
from gateway.sse import SSEEvent
from gateway.values import Completion, Target, UpstreamRequest, Usage

__all__ = ["Adapter", "StreamState", "requested_effort", "refuse", "error_in_body", "untranslatable", "message_of", "error_from_status",
           "Completion", "Target", "UpstreamRequest", "Usage"]


def requested_effort(body: dict, target: Target) -> tuple[str, str] | None:
    """(effort level, the parameter that asked for it) or None: the slug suffix (`provider/model:high`) wins,
    then `reasoning_effort`, then `reasoning: {"effort": ...}`."""
    if target.effort:
        return target.effort, "model"
    if isinstance(body.get("reasoning_effort"), str) and body["reasoning_effort"]:
        return body["reasoning_effort"], "reasoning_effort"
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str) and reasoning["effort"]:
        return reasoning["effort"], "reasoning.effort"
    return None


class StreamState:
    """Per-request translation of one upstream event stream into OpenAI chunk bodies.

    `feed(event)` returns the chunk bodies to send for one upstream SSE event (often none): dicts with
    `choices` (each `{index, delta, finish_reason, logprobs}`) and any extra top-level field the upstream sent
    (`system_fingerprint`...). The envelope (id, object, created, model, `usage: null`) is stamped by
    gateway/chunks.py, not here. `finish()` is called once when the upstream stream ends and returns any chunk
    still owed (for example the finish chunk). Usage is collected in `self.usage` (None while unknown) and is
    never emitted here: the pipeline sends the usage chunk itself when the client asked for it. An upstream error
    event raises a GatewayError.
    """

    def __init__(self):
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def chunk(self, delta: dict, finish_reason: str | None = None, index: int = 0) -> dict:
        return {"choices": [{"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    def feed(self, event: SSEEvent) -> list[dict]:
        raise NotImplementedError

    def finish(self) -> list[dict]:
        return []


class Adapter:
    """Translation only: no I/O, no state kept between requests."""

    def build_request(self, body: dict, target: Target, stream: bool = False) -> UpstreamRequest:
        """The upstream request for this OpenAI-shaped body; `stream` asks for the provider's event stream."""
        raise NotImplementedError

    def parse_response(self, payload: Any, target: Target, requested_model: str) -> Completion:
        raise NotImplementedError

    def stream_state(self, target: Target) -> StreamState:
        raise NotImplementedError

    def parse_error(self, status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
        """An upstream error answer -> the GatewayError of our table."""
        return error_from_status(status, message_of(payload), retry_after)


def refuse(drop: bool, message: str, param: str) -> None:
    """An ask the upstream cannot serve: a 400 naming it, unless the route opted into dropping it (then return).
    The one rule of every adapter: never drop silently what the route did not say may be dropped."""
    if not drop:
        raise exc.InvalidRequest(message, param=param)


def error_in_body(payload: Any) -> exc.GatewayError | None:
    """An OpenAI-shaped error object that came inside a 200 answer or stream event (`{"error": {...}}`, as
    OpenAI-compatible servers send mid-stream): the GatewayError it stands for, by its HTTP-like `code` (502 when
    it has none), or None when `payload` holds no error."""
    err = payload.get("error") if isinstance(payload, dict) else None
    if not err:
        return None
    if not isinstance(err, dict):
        err = {"message": str(err)}
    code = err.get("code")
    if not (isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599):
        # no HTTP-like code: the HTTP status was 200, so the message must not claim another one
        return exc.ProviderUnavailable(f"The provider sent an error instead of an answer: {message_of(payload)}"
                                       .rstrip(": "))
    param = err.get("param") if isinstance(err.get("param"), str) else None
    return error_from_status(code, message_of(payload), param=param)


def untranslatable(e: Exception) -> exc.ProviderUnavailable:
    """What the provider sent and an adapter could not translate (an answer or a stream event): that provider's
    fault (502, retried, the fallback), named by what broke, never a gateway 500."""
    detail = str(e).splitlines()[0][:200] if str(e) else ""
    return exc.ProviderUnavailable(f"The provider sent an answer the gateway cannot read "
                                   f"({type(e).__name__}{': ' + detail if detail else ''}).")


def message_of(payload: Any) -> str:
    """The human message of an upstream error body (OpenAI, Anthropic and Google shapes, or raw text)."""
    if isinstance(payload, dict):
        err = payload.get("error", payload)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    if isinstance(payload, (bytes, str)) and payload:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        return text[:500]
    return ""


def error_from_status(status: int, message: str, retry_after: float | None = None,
                      param: str | None = None) -> exc.GatewayError:
    """The shared upstream-status table: 401/403 auth, 429 rate limit, 5xx/529 unavailable, 4xx invalid."""
    if status in (401, 403):
        return exc.ProviderAuth(f"The provider rejected the credentials (HTTP {status}): {message}".rstrip(": "),
                                upstream_status=status)
    if status == 429:
        return exc.RateLimited(f"The provider is rate-limiting: {message}".rstrip(": "), retry_after=retry_after,
                               upstream_status=status)
    if status in (408, 504):
        return exc.Timeout(f"The provider timed out (HTTP {status}).", upstream_status=status)
    if status >= 500:
        return exc.ProviderUnavailable(f"The provider answered HTTP {status}: {message}".rstrip(": "),
                                       retry_after=retry_after, upstream_status=status)
    return exc.InvalidRequest(message or f"The provider rejected the request (HTTP {status}).", param=param,
                              upstream_status=status)
