"""Price history: one row per price a model had or will have, from `effective_from` until the next row's. A changed
price is a new row, never an edit; a scheduled price is a row whose time has not come. Rates are USD per million
tokens by usage field; `rules` (JSON) holds long-context tiers and time windows as data:
  {"tiers": [{"above": 200000, "input": 2.5, "output": 15, ...}],
   "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "16:30", "to": "00:30", "input": 0.135, ...}]}
A request's log row points at the row that priced it (request_logs.price_id)."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

RATE_COLUMNS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok",
                "cache_write_1h_per_mtok", "reasoning_per_mtok", "audio_input_per_mtok")


class PriceRow(Base):
    __tablename__ = "price_rows"
    __table_args__ = (UniqueConstraint("slug", "effective_from", name="uq_price_rows_slug_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), index=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime)      # UTC
    version: Mapped[int] = mapped_column(Integer)                   # 1, 2, ... per model
    input_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    output_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    cached_input_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)     # 5 minutes
    cache_write_1h_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    reasoning_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    audio_input_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    rules: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
