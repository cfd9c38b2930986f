"""Error answers of OpenAI-compatible upstreams -> the gateway's error table, with the provider's message.

Shapes read: OpenAI's {"error": {message, type, param, code}}; Mistral's {"object": "error", message, type,
param, code} (message sometimes an object or a JSON string); FastAPI validation {"detail": [{loc, msg}]}
(Mistral and vLLM 422s); {"error": "text"} (Ollama, llama.cpp); plain text.
"""
from typing import Any

import orjson

from gateway import exceptions as exc
from gateway.providers.base import message_of, error_from_status


def _detail(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc") or [] if x != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
        return "; ".join(parts)
    return ""


def _text(message: Any) -> str:
    if isinstance(message, str):
        stripped = message.strip()
        if stripped.startswith("{"):
            try:
                inner = orjson.loads(stripped)
            except orjson.JSONDecodeError:
                return message
            return _text(inner) or message
        return message
    if isinstance(message, dict):
        if "detail" in message:
            return _detail(message["detail"])
        return _text(message.get("message"))
    return ""


def message_and_param(payload: Any) -> tuple[str, str | None]:
    if not isinstance(payload, dict):
        return message_of(payload), None
    err = payload.get("error")
    if isinstance(err, dict):
        param = err.get("param") if isinstance(err.get("param"), str) else None
        return _text(err.get("message")) or message_of(payload), param
    if isinstance(err, str):
        return err, None
    if "detail" in payload:
        return _detail(payload["detail"]), None
    param = payload.get("param") if isinstance(payload.get("param"), str) else None
    return _text(payload.get("message")) or message_of(payload), param


def from_answer(status: int, payload: Any, retry_after: float | None) -> exc.GatewayError:
    message, param = message_and_param(payload)
    return error_from_status(status, message, retry_after, param=param)
