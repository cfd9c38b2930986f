"""The per-request record: what was asked, what served it, what it cost; it becomes the headers and the log row."""
import time
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.pricing import format_cost
from gateway.values import Usage
from models.base import utcnow


@dataclass
class Attempt:
    target: str
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None


# Lengths of the log row's text columns (models/request_log.py): a longer value would fail its whole insert batch.
_MODEL_MAX = 200


@dataclass
class RequestRecord:
    request_id: str             # ours, minted per request: unique, the key of the log row and its attempts
    endpoint: str
    t_arrival: float = field(default_factory=time.perf_counter)
    client_request_id: str | None = None   # the client's own X-Request-Id (safe token), echoed instead of ours
    traceparent: str | None = None         # the client's W3C trace context (validated), sent to every attempt
    tracestate: str | None = None
    key_id: int | None = None
    key_prefix: str | None = None          # the key's display prefix (never the secret)
    requested_model: str | None = None
    route: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    fallback_used: bool = False
    status: int = 200
    error_code: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    price_version: int | None = None
    upstream_ms: float = 0.0
    stream: bool = False
    relaying: bool = False      # a stream's relay owns the log row (handed over when the stream ends)
    logged: bool = False
    in_flight: bool = False     # counted in the in-flight gauge (until Services.finish)
    stream_in_flight: bool = False

    @property
    def public_id(self) -> str:
        """The id the client sees in x-request-id: its own when it sent a safe one, else ours."""
        return self.client_request_id or self.request_id

    def trace_headers(self) -> dict[str, str] | None:
        """The client's trace context as upstream request headers (None without a valid traceparent)."""
        if self.traceparent is None:
            return None
        if self.tracestate:
            return {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {"traceparent": self.traceparent}

    def gateway_headers(self) -> dict[str, str]:
        h = {"x-request-id": self.client_request_id or self.request_id}
        if self.provider:
            h["x-gateway-provider"] = self.provider
            h["x-gateway-model"] = self.upstream_model or ""
            h["x-gateway-fallback-used"] = "true" if self.fallback_used else "false"
        if self.attempts:
            h["x-gateway-attempts"] = ",".join(
                f"{a.target}:{a.error_code or 'ok'}" for a in self.attempts)
            h["x-gateway-latency-ms"] = f"{self.upstream_ms:.1f}"
        if self.cost is not None:
            h["x-gateway-cost-usd"] = format_cost(self.cost)
        return h

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.t_arrival) * 1000 - self.upstream_ms)

    def log_row(self) -> dict:
        u = self.usage
        total_ms = (time.perf_counter() - self.t_arrival) * 1000
        return {
            "request_id": self.request_id, "client_request_id": self.client_request_id,
            "traceparent": self.traceparent, "key_id": self.key_id, "endpoint": self.endpoint,
            "requested_model": _clip(self.requested_model), "route": self.route, "provider": self.provider,
            "upstream_model": _clip(self.upstream_model), "attempts": len(self.attempts),
            "fallback_used": self.fallback_used, "status": self.status, "error_code": self.error_code,
            "prompt_tokens": u.prompt_tokens if u else None,
            "completion_tokens": u.completion_tokens if u else None,
            "cached_tokens": u.cached_tokens if u else None,
            "reasoning_tokens": u.reasoning_tokens if u else None,
            "usage_known": u is not None, "cost_usd": self.cost, "price_version": self.price_version,
            "gateway_latency_ms": round(total_ms - self.upstream_ms, 3),
            "upstream_latency_ms": round(self.upstream_ms, 3), "stream": self.stream, "created_at": utcnow(),
            "attempt_rows": [
                {"request_id": self.request_id, "position": i, "target": a.target[:_MODEL_MAX], "status": a.status,
                 "error_code": a.error_code, "error_message": (a.error_message or "")[:1000] or None,
                 "latency_ms": round(a.latency_ms, 3) if a.latency_ms is not None else None}
                for i, a in enumerate(self.attempts)],
        }


def _clip(text: str | None) -> str | None:
    return text[:_MODEL_MAX] if text is not None and len(text) > _MODEL_MAX else text
