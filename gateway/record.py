"""The per-request record: what was asked, what served it, what it cost; it becomes the headers and the log row."""
import time
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.metering import format_cost
from gateway.providers.base import Usage
from models.base import utcnow


@dataclass
class Attempt:
    target: str
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None


@dataclass
class RequestRecord:
    request_id: str
    endpoint: str
    t_arrival: float = field(default_factory=time.perf_counter)
    key_id: int | None = None
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

    def gateway_headers(self) -> dict[str, str]:
        h = {"x-request-id": self.request_id}
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
            "request_id": self.request_id, "key_id": self.key_id, "endpoint": self.endpoint,
            "requested_model": self.requested_model, "route": self.route, "provider": self.provider,
            "upstream_model": self.upstream_model, "attempts": len(self.attempts),
            "fallback_used": self.fallback_used, "status": self.status, "error_code": self.error_code,
            "prompt_tokens": u.prompt_tokens if u else None,
            "completion_tokens": u.completion_tokens if u else None,
            "cached_tokens": u.cached_tokens if u else None,
            "reasoning_tokens": u.reasoning_tokens if u else None,
            "usage_known": u is not None, "cost_usd": self.cost, "price_version": self.price_version,
            "gateway_latency_ms": round(total_ms - self.upstream_ms, 3),
            "upstream_latency_ms": round(self.upstream_ms, 3), "stream": self.stream, "created_at": utcnow(),
            "attempt_rows": [
                {"request_id": self.request_id, "position": i, "target": a.target, "status": a.status,
                 "error_code": a.error_code, "error_message": (a.error_message or "")[:1000] or None,
                 "latency_ms": round(a.latency_ms, 3) if a.latency_ms is not None else None}
                for i, a in enumerate(self.attempts)],
        }
