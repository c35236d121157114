"""The exchange's tables (SQLAlchemy 2 declarative models).

Who owns what: an offer belongs to a seller tenant; requests, quotes, orders and leases
belong to a buyer tenant; a fill names both. ``offers.available`` is the capacity not yet
leased; a CHECK constraint keeps ``0 <= available <= count`` so even a buggy writer cannot
oversell. Schema changes go through Alembic (``store/migrations/versions``), never
``create_all``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is what the migrations describe."""


class ApiKey(Base):
    """An API key: only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # where the key's calls come from when a gateway call names no region (a city)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Offer(Base):
    """Idle GPUs a seller lists at a site, at a price per GPU-hour."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("available >= 0 AND available <= count", name="ck_offers_available"),
        CheckConstraint("count >= 0", name="ck_offers_count"),
        CheckConstraint(
            "reserved >= 0 AND available + reserved <= count", name="ck_offers_reserved"
        ),
        Index("ix_offers_search", "status", "gpu", "price_cny_per_gpu_hour"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seller: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(64))
    hub: Mapped[str] = mapped_column(String(100), index=True)
    region_role: Mapped[str] = mapped_column(String(16))
    gpu: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    # GPUs held by the seller's resting call-auction asks: neither free nor leased.
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gpus_per_node: Mapped[int] = mapped_column(Integer)
    price_cny_per_gpu_hour: Mapped[float] = mapped_column(Float)
    fabric: Mapped[str] = mapped_column(String(32))
    start_h: Mapped[float] = mapped_column(Float, default=0.0)
    end_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    interruptible: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RequestRow(Base):
    """A buyer's request in outcome terms (serve / batch / train); ``spec`` is its body."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    buyer: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Quote(Base):
    """A sizing and placement preview for a request; commits nothing."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    buyer: Mapped[str] = mapped_column(String(200), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    feasible: Mapped[bool] = mapped_column(Boolean)
    cost_cny_per_hour: Mapped[float] = mapped_column(Float)
    gpus: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Order(Base):
    """A committed placement: GPUs reserved on one or more offers, one lease per offer."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    buyer: Mapped[str] = mapped_column(String(200), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), nullable=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="filled")
    gpus: Mapped[int] = mapped_column(Integer)
    cost_cny_per_hour: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Lease(Base):
    """GPUs of one offer held by one buyer, made by a direct order (``kind='direct'``,
    active at once) or by a call-auction fill (``kind='auction'``, pending until the buyer
    activates it): pending -> active -> ended / preempted / cancelled. ``metered_h`` is
    how many hours the ledger has billed; ``start_h``/``end_h`` an auction lease's window
    on the exchange clock (hours since the Unix epoch)."""

    __tablename__ = "leases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(200), index=True)
    seller: Mapped[str] = mapped_column(String(200), index=True)
    gpu: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    hub: Mapped[str] = mapped_column(String(100))
    gpus: Mapped[int] = mapped_column(Integer)
    price_cny_per_gpu_hour: Mapped[float] = mapped_column(Float)
    hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    kind: Mapped[str] = mapped_column(String(8), default="direct", server_default="direct")
    pricing: Mapped[str] = mapped_column(
        String(16), default="on-demand", server_default="on-demand"
    )
    market_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    metered_h: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class Fill(Base):
    """One trade: ``gpus`` of an offer sold to a buyer, by a direct order at the offer's
    price (``kind='direct'``) or by a call auction at its clearing price (``'auction'``)."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("leases.id"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    buyer: Mapped[str] = mapped_column(String(200), index=True)
    seller: Mapped[str] = mapped_column(String(200), index=True)
    gpu: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(64))
    hub: Mapped[str] = mapped_column(String(100))
    gpus: Mapped[int] = mapped_column(Integer)
    price_cny_per_gpu_hour: Mapped[float] = mapped_column(Float)
    interruptible: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(8), default="direct", server_default="direct")
    pricing: Mapped[str] = mapped_column(
        String(16), default="on-demand", server_default="on-demand"
    )
    round_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MarketOrderRow(Base):
    """A call-auction order resting in the book (``status='open'``) or done with.

    An ask names the seller's offer and holds ``remaining_gpus`` of it in
    ``offers.reserved`` while it rests; the id is also the arrival sequence.
    """

    __tablename__ = "market_orders"
    __table_args__ = (
        CheckConstraint(
            "remaining_gpus >= 0 AND remaining_gpus <= quantity_gpus",
            name="ck_market_orders_remaining",
        ),
        Index("ix_market_orders_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    side: Mapped[str] = mapped_column(String(3))
    account: Mapped[str] = mapped_column(String(200), index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"), nullable=True)
    gpu: Mapped[str] = mapped_column(String(64))
    hub: Mapped[str] = mapped_column(String(100))
    pricing: Mapped[str] = mapped_column(String(16))
    start_h: Mapped[float] = mapped_column(Float)
    end_h: Mapped[float] = mapped_column(Float)
    price_fen_per_gpu_hour: Mapped[int] = mapped_column(BigInteger)
    quantity_gpus: Mapped[int] = mapped_column(Integer)
    remaining_gpus: Mapped[int] = mapped_column(Integer)
    all_or_nothing: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ClearingRoundRow(Base):
    """One call-auction round. ``period`` is unique: a scheduled round claims its period
    (``every-60s:29451234``) so that however many nodes try, one round runs per period."""

    __tablename__ = "clearing_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(64), unique=True)
    node: Mapped[str] = mapped_column(String(100), default="")
    cleared_at_h: Mapped[float] = mapped_column(Float)
    fills: Mapped[int] = mapped_column(Integer, default=0)
    volume_gpus: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LedgerEntryRow(Base):
    """One posting of the double-entry ledger, in integer fen; the postings of one
    ``txn`` sum to zero, so all postings do."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    txn: Mapped[str] = mapped_column(String(64), index=True)
    account: Mapped[str] = mapped_column(String(220), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    lease_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    memo: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdempotencyRecord(Base):
    """The stored response of a POST made with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("key_id", "idem_key", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32))
    idem_key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
