"""Spend and request counts per key and per team per UTC day, kept up to date by the log writer in the same
transaction as the log rows. A period's spend (day, week, month, total) is the sum of its days: what the limits
load when a worker starts, so nothing ever sums the request log."""
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SpendCounter(Base):
    __tablename__ = "spend_counters"

    subject: Mapped[str] = mapped_column(String(32), primary_key=True)      # "key:<id>" or "team:<id>"
    day: Mapped[date] = mapped_column(Date, primary_key=True)               # UTC
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
