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

    PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")

    def set_prices(self, prices: dict) -> bool:
        """Set the four price columns from `prices` (USD per million tokens, None for none). A new row starts at
        version 1; a changed price (1.25 over 1.250000 is none) bumps `price_version`, so each log row keeps the
        version that priced it. The one rule for the admin panel and the config import. True when it changed."""
        new = {f: None if prices.get(f) is None else Decimal(str(prices[f])) for f in self.PRICE_FIELDS}
        changed = any(_same(getattr(self, f)) != _same(v) for f, v in new.items())
        for f, v in new.items():
            setattr(self, f, v)
        if self.price_version is None:
            self.price_version = 1
        elif changed:
            self.price_version += 1
        return changed

    def __repr__(self) -> str:
        return f"<ModelPrice {self.slug} v{self.price_version}>"


def _same(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).normalize()
