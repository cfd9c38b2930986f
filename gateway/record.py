"""The per-request record: what was asked, what served it, what it cost; it becomes the headers and the log row.

Its fields change only through its methods, each named for a step of the request (identified, admitted, asked,
routed, an attempt skipped / failed / succeeded, served by, charged, streamed, failed, client closed, answered,
handed over), so the record has one owner and every module that moves a request on says which step it took.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from gateway.pricing import format_cost
from gateway.values import Target, Usage


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Attempt:
    target: str
    status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None


# Lengths of the log row's text columns (models/request_log.py): a longer value would fail its whole insert batch.
_MODEL_MAX = 200
_MESSAGE_MAX = 1000


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
    team_id: int | None = None
    reservation: object = None             # what the admit step reserved on the limit counters (admission.py)
    requested_model: str | None = None
    route: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    fallback_used: bool = False
    status: int = 200
    error_code: str | None = None
    error_message: str | None = None       # the message the client got with its error
    usage: Usage | None = None
    cost: Decimal | None = None
    price_version: int | None = None
    price_id: int | None = None            # the price row that priced it (frozen: the one in force at routing)
    upstream_ms: float = 0.0
    stream: bool = False
    logged: bool = False        # handed over (log row, ledger, metrics, access line): once
    closes_with_response: bool = False   # handed over when the server closes the response (not by the teardown)
    in_flight: bool = False     # counted in the in-flight gauge (until handed over)
    stream_in_flight: bool = False

    # --- the steps of a request, in order -----------------------------------------------------------------------
    def identified(self, client_request_id: str | None, traceparent: str | None, tracestate: str | None) -> None:
        self.client_request_id, self.traceparent, self.tracestate = client_request_id, traceparent, tracestate

    def admitted(self, key_id: int, key_prefix: str, team_id: int | None = None) -> None:
        self.key_id, self.key_prefix, self.team_id = key_id, key_prefix, team_id

    def reserved(self, reservation) -> None:
        self.reservation = reservation

    def asked(self, model: str | None, stream: bool = False) -> None:
        self.requested_model, self.stream = model, stream

    def routed(self, route: str | None) -> None:
        self.route = route

    def attempt_skipped(self, target: str, code: str, message: str) -> None:
        """A target not tried (cooling down, no key, no adapter)."""
        self.attempts.append(Attempt(target, None, code, message))

    def attempt_failed(self, target: str, status: int | None, code: str, message: str, ms: float) -> None:
        self.upstream_ms += ms
        self.attempts.append(Attempt(target, status, code, message, ms))

    def attempt_succeeded(self, target: str, status: int, ms: float) -> None:
        self.upstream_ms += ms
        self.attempts.append(Attempt(target, status, None, None, ms))

    def served_by(self, target: Target, position: int) -> None:
        self.provider, self.upstream_model = target.provider, target.upstream_model
        self.fallback_used = position > 0
        self.price_version = target.price.version if target.price else None
        self.price_id = target.price.id if target.price else None

    def charged(self, usage: Usage | None, cost: Decimal | None) -> None:
        self.usage, self.cost = usage, cost

    def streamed(self, ms: float) -> None:
        """The relay's time after the first chunk (provider time too)."""
        self.upstream_ms += ms

    def failed(self, code: str, status: int | None = None, message: str | None = None) -> None:
        """The error the client got: its code and, for the log row, its message (already scrubbed of provider
        keys by whoever raised it; clipped here)."""
        self.error_code = code
        if message is not None:
            self.error_message = message[:_MESSAGE_MAX]
        if status is not None:
            self.status = status

    def client_closed(self) -> None:
        self.status, self.error_code = 499, "client_closed"
        self.error_message = "The client closed the connection before the answer was complete."

    def answered(self, status: int) -> None:
        if self.status != 499:
            self.status = status

    def closing_with_response(self) -> None:
        self.closes_with_response = True

    def counted_in_flight(self, stream: bool = False) -> bool:
        """Mark it counted in the in-flight gauge (or the streams gauge); False when it already was."""
        if stream:
            was, self.stream_in_flight = self.stream_in_flight, True
        else:
            was, self.in_flight = self.in_flight, True
        return not was

    def left_flight(self) -> tuple[bool, bool]:
        """(was in flight, was a stream in flight), and neither any more."""
        out = (self.in_flight, self.stream_in_flight)
        self.in_flight = self.stream_in_flight = False
        return out

    def hand_over(self) -> bool:
        """True the first time (the caller hands the row over now), False after."""
        if self.logged:
            return False
        self.logged = True
        return True

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
            "traceparent": self.traceparent, "key_id": self.key_id, "team_id": self.team_id,
            "endpoint": self.endpoint,
            "requested_model": _clip(self.requested_model), "route": self.route, "provider": self.provider,
            "upstream_model": _clip(self.upstream_model), "attempts": len(self.attempts),
            "fallback_used": self.fallback_used, "status": self.status, "error_code": self.error_code,
            "error_message": _storable(self.error_message),
            "prompt_tokens": u.prompt_tokens if u else None,
            "completion_tokens": u.completion_tokens if u else None,
            "cached_tokens": u.cached_tokens if u else None,
            "reasoning_tokens": u.reasoning_tokens if u else None,
            "cache_write_tokens": u.cache_write_tokens if u else None,
            "cache_write_1h_tokens": u.cache_write_1h_tokens if u else None,
            "audio_input_tokens": u.audio_input_tokens if u else None,
            "usage_known": u is not None, "cost_usd": self.cost, "price_version": self.price_version,
            "price_id": self.price_id,
            "gateway_latency_ms": round(total_ms - self.upstream_ms, 3),
            "upstream_latency_ms": round(self.upstream_ms, 3), "stream": self.stream, "created_at": utcnow(),
            # not a column: whether the request counts against request quotas (the log writer's spend counters)
            "quota_counted": self.reservation is not None and self.status not in (400, 401),
            "attempt_rows": [
                {"request_id": self.request_id, "position": i, "target": _clip(a.target), "status": a.status,
                 "error_code": a.error_code, "error_message": _storable((a.error_message or "")[:1000] or None),
                 "latency_ms": round(a.latency_ms, 3) if a.latency_ms is not None else None}
                for i, a in enumerate(self.attempts)],
        }


def _clip(text: str | None) -> str | None:
    return _storable(text[:_MODEL_MAX] if text is not None and len(text) > _MODEL_MAX else text)


def _storable(text: str | None) -> str | None:
    """Client text as a text column holds it: PostgreSQL refuses NUL characters (the whole batch with it), so a
    model name or a message quoting one with a NUL in it is stored with U+FFFD in its place."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text
