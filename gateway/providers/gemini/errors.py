"""Google RPC error bodies ({"error": {code, message, status, details}}) -> the gateway's GatewayErrors.

The shared status table (base.error_from_status) applies, with Google's message kept, plus:
  * 400 INVALID_ARGUMENT whose details say API_KEY_INVALID is the gateway's key being refused -> provider_auth;
  * 404 NOT_FOUND names the model -> invalid_request with param "model";
  * a 429 without a Retry-After header takes the delay from the RetryInfo detail ("retryDelay": "37s").
"""
from typing import Any

from gateway import exceptions as exc
from gateway.providers.base import message_of, error_from_status


def _details(err: dict) -> list[dict]:
    return [d for d in err.get("details") or [] if isinstance(d, dict)]


def _retry_delay(err: dict) -> float | None:
    for d in _details(err):
        delay = d.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
    return None


def parse_error(status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {}
    message = message_of(payload)
    as_status = status
    if status == 400 and any(d.get("reason") == "API_KEY_INVALID" for d in _details(err)):
        as_status = 401
    if status == 429 and retry_after is None:
        retry_after = _retry_delay(err)
    error = error_from_status(as_status, message, retry_after, param="model" if status == 404 else None)
    error.upstream_status = status
    return error


def error_of(payload: dict) -> exc.GatewayError:
    """An error object that arrived inside a 200 answer or a stream event."""
    err = payload.get("error") or {}
    code = err.get("code") if isinstance(err.get("code"), int) else 500
    return parse_error(code if code >= 400 else 500, payload, None)
