"""Anthropic error answers (HTTP bodies and in-stream `error` events) -> GatewayErrors, keeping the message."""
from typing import Any

from gateway import exceptions as exc
from gateway.providers.base import message_of, error_from_status

# Anthropic error.type -> the HTTP status Anthropic sends it with; an in-stream `error` event has no status.
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_type(payload: Any) -> str | None:
    err = payload.get("error") if isinstance(payload, dict) else None
    return err.get("type") if isinstance(err, dict) and isinstance(err.get("type"), str) else None


def from_answer(status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
    """An HTTP error answer: the shared status table, with the cases Anthropic words differently."""
    message = message_of(payload)
    kind = error_type(payload)
    if status == 402 or kind == "billing_error":
        # The gateway's Anthropic account cannot pay: a provider-side credential problem, not the client's.
        return exc.ProviderAuth(f"The provider refused the gateway's account (billing): {message}".rstrip(": "),
                                upstream_status=status)
    if status == 413 or kind == "request_too_large":
        return exc.PayloadTooLarge(message or "The request is too large for the provider.", upstream_status=status)
    return error_from_status(status, message, retry_after)


def from_event(payload: Any) -> exc.GatewayError:
    """An `error` event inside a 200 stream (e.g. overloaded_error): mapped as if it came with its status."""
    kind = error_type(payload)
    status = STATUS_OF_TYPE.get(kind, 500)
    return from_answer(status, payload, None)
