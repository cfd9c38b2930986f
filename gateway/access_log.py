"""The JSON access log: one line per finished request on stdout (SWITCHYARD_ACCESS_LOG=json); never a secret or a
prompt, and one write() per line so lines of concurrent requests (greenlets, threads, workers) never interleave."""
import os
from datetime import datetime, timezone

import orjson

from gateway.pricing import format_cost
from gateway.record import RequestRecord

STDOUT_FD = 1
_MODEL_MAX = 200      # a client's model name is logged, but not without bound


def _clip(text: str | None) -> str | None:
    return text[:_MODEL_MAX] if text is not None and len(text) > _MODEL_MAX else text


def access_entry(rec: RequestRecord, total_s: float, now: datetime | None = None) -> dict:
    """The fields of one line. `total_s`: arrival to the end (a stream: its last byte)."""
    now = now or datetime.now(timezone.utc)
    total_ms = total_s * 1000
    u = rec.usage
    return {
        "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": rec.public_id,                 # what the client saw in x-request-id
        "gateway_request_id": rec.request_id,        # ours, unique: the log row's request_id
        "key_prefix": rec.key_prefix,
        "endpoint": rec.endpoint,
        "requested_model": _clip(rec.requested_model),
        "provider": rec.provider,
        "upstream_model": rec.upstream_model,
        "stream": rec.stream,
        "status": rec.status,
        "error_code": rec.error_code,
        "attempts": len(rec.attempts),
        "duration_ms": round(total_ms, 3),
        "latency_ms": round(rec.upstream_ms, 3),     # in provider calls, as x-gateway-latency-ms
        "overhead_ms": round(max(0.0, total_ms - rec.upstream_ms), 3),
        "tokens": None if u is None else {"prompt": u.prompt_tokens, "completion": u.completion_tokens,
                                          "cached": u.cached_tokens, "reasoning": u.reasoning_tokens},
        "cost_usd": format_cost(rec.cost) if rec.cost is not None else None,
        "traceparent": rec.traceparent,
    }


def access_line(rec: RequestRecord, total_s: float, now: datetime | None = None) -> bytes:
    return orjson.dumps(access_entry(rec, total_s, now)) + b"\n"


class AccessLog:
    """Writes each line with one os.write on the stdout file descriptor: no Python-level buffer that could hold
    a line back or split it (a pipe write up to PIPE_BUF bytes is atomic, also across worker processes)."""

    def __init__(self, fd: int = STDOUT_FD):
        self.fd = fd

    def write(self, rec: RequestRecord, total_s: float) -> None:
        line = access_line(rec, total_s)
        try:
            written = os.write(self.fd, line)
            while written < len(line):               # a short write (signal, full pipe): finish the line
                written += os.write(self.fd, line[written:])
        except OSError:                              # stdout gone: the request itself is not affected
            pass
