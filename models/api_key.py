"""Gateway keys: only a SHA-256 hash and a short display prefix are stored."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-separated globs; empty = all
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:  # never shows the hash
        return f"<ApiKey {self.id} {self.name} {self.prefix}…>"
