"""Models clients can name, with prices per million tokens (versioned) and metadata."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ModelPrice(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)  # provider/model as clients name it
    provider: Mapped[str] = mapped_column(String(64), index=True)
    upstream: Mapped[str] = mapped_column(String(200))
    input_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    output_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    cached_input_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    cache_write_per_mtok: Mapped[Decimal | None] = mapped_column(Numeric(12, 6), nullable=True)
    context_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_output: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capabilities: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON object
    price_version: Mapped[int] = mapped_column(Integer, default=1)
    prices_as_of: Mapped[str | None] = mapped_column(String(32), nullable=True)  # date the prices were taken
    drop_unsupported: Mapped[bool] = mapped_column(Boolean, default=False)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    replacement: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    # The price columns hold the price in force (for lists); its history is models/price_row.py, recorded by one
    # rule (gateway/prices.py: record_prices) for the config import and the admin panel.
    PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")

    def __repr__(self) -> str:
        return f"<ModelPrice {self.slug} v{self.price_version}>"

