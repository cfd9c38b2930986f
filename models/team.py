"""Teams: keys grouped under shared limits (requests and tokens per minute), a shared budget per period, and a
monthly request quota. A request passes both its key's and its team's limits."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), nullable=True)
    budget_period: Mapped[str] = mapped_column(String(8), default="month")   # day | week | month | total
    request_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)  # requests per calendar month (UTC)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"
