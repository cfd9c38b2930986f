"""One row per gateway request (what was asked, who served it, what it cost) and one per upstream attempt."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class RequestLog(Base):
    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_created_at", "created_at"),
        Index("ix_request_logs_key_created", "key_id", "created_at"),
        Index("ix_request_logs_model_created", "requested_model", "created_at"),
        Index("ix_request_logs_provider_created", "provider", "created_at"),
        Index("ix_request_logs_status_created", "status", "created_at"),
        # the admin log page's other filters: each an index range walked newest first
        Index("ix_request_logs_team_created", "team_id", "created_at"),
        Index("ix_request_logs_error_created", "error_code", "created_at"),
        Index("ix_request_logs_fallback_created", "fallback_used", "created_at"),
        Index("ix_request_logs_stream_created", "stream", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)   # ours, minted per request
    # the client's own X-Request-Id (echoed back to it): not unique, a client may send the same id twice
    client_request_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)   # the client's W3C trace context
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    team_id: Mapped[int | None] = mapped_column(Integer, nullable=True)   # the key's team when it was made
    endpoint: Mapped[str] = mapped_column(String(64))
    requested_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    route: Mapped[str | None] = mapped_column(String(63), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    upstream_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)   # what the client was told (clipped)
    price_id: Mapped[int | None] = mapped_column(Integer, nullable=True)     # the price row that priced it
    # the rest of the usage the cost was computed from, so `usage verify` can recompute it from the row alone
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cache_write_1h_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audio_input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cached_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    usage_known: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 8), nullable=True)
    price_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gateway_latency_ms: Mapped[float | None] = mapped_column(Numeric(10, 3), nullable=True)
    upstream_latency_ms: Mapped[float | None] = mapped_column(Numeric(10, 3), nullable=True)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RequestAttempt(Base):
    __tablename__ = "request_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("request_logs.request_id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(200))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Numeric(10, 3), nullable=True)
