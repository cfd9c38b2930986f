"""Aliases clients can name, each with an ordered chain of targets, retries and a timeout."""
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Route(Base):
    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=1)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=30000)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    drop_unsupported: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    targets: Mapped[list["RouteTarget"]] = relationship(
        back_populates="route", cascade="all, delete-orphan", order_by="RouteTarget.position")

    def __repr__(self) -> str:
        return f"<Route {self.alias}>"


class RouteTarget(Base):
    __tablename__ = "route_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(200))  # provider/model[:effort]
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)  # equal priorities share by weight
    weight: Mapped[int] = mapped_column(Integer, default=1)
    overrides: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON object of body overrides
    route: Mapped[Route] = relationship(back_populates="targets")

    def __repr__(self) -> str:
        return f"<RouteTarget {self.position}:{self.model}>"
