"""Gateway keys: only a SHA-256 hash and a short display prefix are stored (a rotated key's previous hash too, until
its grace period ends)."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), nullable=True, index=True)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)
    budget_period: Mapped[str] = mapped_column(String(8), default="total")   # day | week | month | total
    request_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)  # requests per calendar month (UTC)
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-separated globs; empty = all
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)   # UTC; refused from then on
    metadata_json: Mapped[str | None] = mapped_column(Text, nullable=True)   # JSON object of strings
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # rotated out
    previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)      # its grace ends
    admin_scope: Mapped[bool] = mapped_column(Boolean, default=False)   # may read other keys' and teams' usage
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=True,
                                                        index=True)     # the key cache watches its maximum
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    team = relationship("Team", lazy="joined")

    def __repr__(self) -> str:  # never shows the hash
        return f"<ApiKey {self.id} {self.name} {self.prefix}…>"
