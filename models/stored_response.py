"""Responses kept for `previous_response_id` and GET /v1/responses/{id}: scoped to the key that made them, kept
SWITCHYARD_RESPONSE_RETENTION_DAYS. `history` is every item before this response's own input (the chain of
previous responses, expanded), so continuing one is one read, never a walk down the chain."""
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class StoredResponse(Base):
    __tablename__ = "stored_responses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)          # resp_..., the id the client got
    key_id: Mapped[int] = mapped_column(Integer, index=True)               # the gateway key that made it
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previous_response_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    history: Mapped[str] = mapped_column(Text)       # JSON list: the items before this response's input
    input_items: Mapped[str] = mapped_column(Text)   # JSON list: this request's own input, as items with ids
    response: Mapped[str] = mapped_column(Text)      # JSON: the response object the client got
    # deleted: the content is gone, the row stays (until retention) so every worker answers 404 at once
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
