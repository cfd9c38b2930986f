"""Daily usage per key, team, model and provider (UTC days), kept by the log writer in the same transaction as the
rows it inserts: what the usage summary and the dashboard read, never the raw log. Latency is a sum and a
histogram of fixed buckets (LATENCY_BUCKETS_MS), enough for p50/p95 per group; the gateway's own overhead the
same way (OVERHEAD_BUCKETS_MS); fallbacks and streams are counts. A missing key, team, model or
provider is stored as 0 or "" so the five columns can be one unique key."""
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Float, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

# upper bounds (ms) of the latency buckets; the last bucket counts everything slower
LATENCY_BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
# upper bounds (ms) of the gateway-overhead buckets (the time spent in the gateway, not waiting on the provider)
OVERHEAD_BUCKETS_MS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000)


class UsageRollup(Base):
    __tablename__ = "usage_rollups"
    __table_args__ = (UniqueConstraint("day", "key_id", "team_id", "model", "provider", name="uq_usage_rollups_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    key_id: Mapped[int] = mapped_column(Integer, default=0)
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(200), default="")
    provider: Mapped[str] = mapped_column(String(64), default="")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=0)
    unpriced: Mapped[int] = mapped_column(Integer, default=0)      # rows served without a cost (unknown price/usage)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # served by a later target
    streams: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overhead_ms_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


for _i in range(len(LATENCY_BUCKETS_MS) + 1):
    setattr(UsageRollup, f"lat_b{_i}", mapped_column(f"lat_b{_i}", Integer, default=0, nullable=False))
for _i in range(len(OVERHEAD_BUCKETS_MS) + 1):
    setattr(UsageRollup, f"ovh_b{_i}", mapped_column(f"ovh_b{_i}", Integer, default=0, server_default="0",
                                                     nullable=False))
del _i
