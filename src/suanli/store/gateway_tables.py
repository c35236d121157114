"""Serving through the exchange: replica endpoints, measured outcomes, SLO credits.

- ``replicas``: the OpenAI-compatible endpoint of one serving replica of a lease (registered
  by the lease's seller, or by its buyer for leases it operates), with its health as last
  seen by a gateway.
- ``lease_minutes``: what the gateways measured, summed per lease, replica, caller region and
  UTC minute (a gateway adds its in-memory sums every few seconds; no per-call rows).
- ``slo_credits``: one row per settled lease-hour: the attainment, the hour's rent, the
  credit the published rule gives and the balanced ledger entries that carry it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from suanli.store.models import Base, UtcDateTime, utcnow


class ReplicaRow(Base):
    """One serving replica's endpoint for a lease."""

    __tablename__ = "replicas"
    __table_args__ = (UniqueConstraint("lease_id", "url", name="uq_replicas_lease_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    registered_by: Mapped[str] = mapped_column(String(200))
    emulated: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[str] = mapped_column(String(16), default="unknown")  # up | down | unknown
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LeaseMinuteRow(Base):
    """Gateway measurements of one lease's calls in one UTC minute (from one region, on one
    replica). ``ok`` counts calls that met both targets of the lease's quoted request."""

    __tablename__ = "lease_minutes"
    __table_args__ = (
        UniqueConstraint("lease_id", "replica_id", "region", "minute", name="uq_lease_minutes"),
        Index("ix_lease_minutes_lease_minute", "lease_id", "minute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[int] = mapped_column(Integer)
    replica_id: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(100))
    minute: Mapped[datetime] = mapped_column(UtcDateTime())
    calls: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    streamed: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ok: Mapped[int] = mapped_column(Integer, default=0)
    tpot_ok: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    tpot_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    e2e_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    ttft_ms_max: Mapped[float] = mapped_column(Float, default=0.0)
    emulated: Mapped[bool] = mapped_column(Boolean, default=False)


class SloCreditRow(Base):
    """A settled lease-hour under the SLO credit rule (``suanli.market.slo``)."""

    __tablename__ = "slo_credits"
    __table_args__ = (UniqueConstraint("lease_id", "hour", name="uq_slo_credits_lease_hour"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[int] = mapped_column(Integer, index=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime())
    calls: Mapped[int] = mapped_column(Integer)
    ok: Mapped[int] = mapped_column(Integer)
    attainment: Mapped[float] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    rent_fen: Mapped[int] = mapped_column(Integer)
    credit_fen: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[list[Any]] = mapped_column(JSON)  # [[account, amount_fen], ...], sum 0
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
