"""The market's persistence: one append-only event log, replayed into a ``MarketState``.

The market core is event-sourced (``suanli.market.events``), so the store keeps only the
log: ``market_events(id, kind, payload, created_at)``. A write validates the new event by
applying it to the state rebuilt from the log *inside* the write transaction (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock), then appends it; two
workers therefore never apply events to diverging states. Readers replay the log; a
per-process cache keeps the last state and applies only newer rows.

The table is created by the Alembic migration ``0003_market_events`` (applied by
:meth:`Database.connect`, as every other table); it is declared here in its own
``MetaData`` for the queries.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.orm import Session

from suanli.market.codec import event_from_dict, event_to_dict
from suanli.market.events import Event, MarketState, apply
from suanli.store.db import Database
from suanli.store.models import UtcDateTime, utcnow

metadata = MetaData()

market_events = Table(
    "market_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, default=utcnow),
)

_LOCK_ID = 0x4D4B5456  # "MKTV": serialises market writers on PostgreSQL


class MarketStore:
    """The market of one database: replayed state plus appends."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._state = MarketState()
        self._last_id = 0

    def _catch_up(self, session: Session, state: MarketState, last_id: int) -> tuple[
        MarketState, int
    ]:  # fmt: skip
        rows = session.execute(
            select(market_events.c.id, market_events.c.payload)
            .where(market_events.c.id > last_id)
            .order_by(market_events.c.id)
        ).all()
        for row_id, payload in rows:
            state = apply(state, event_from_dict(payload))
            last_id = int(row_id)
        return state, last_id

    def state(self) -> MarketState:
        """The current market (the log replayed up to its newest row)."""
        with self._lock, self.db.read() as session:
            self._state, self._last_id = self._catch_up(session, self._state, self._last_id)
            return self._state

    def append(self, session: Session, event: Event) -> MarketState:
        """Validate ``event`` against the latest state and log it, in ``session``'s write
        transaction (raises the core's error, and logs nothing, if it does not apply)."""
        if not self.db.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        with self._lock:
            state, last_id = self._catch_up(session, self._state, self._last_id)
            self._state, self._last_id = state, last_id
        new_state = apply(state, event)
        session.execute(
            market_events.insert().values(
                kind=event.kind, payload=event_to_dict(event), created_at=utcnow()
            )
        )
        return new_state

    def service_fills(
        self, *, gpu: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The service's own fills (direct orders on offers), for the price index; only
        those of ``gpu`` (a canonical catalog name) and made at or after ``since`` when given,
        filtered in the database."""
        from suanli.store.models import Fill as FillRow
        from suanli.store.models import Lease as LeaseRow

        query = select(FillRow, LeaseRow.hours).join(
            LeaseRow, LeaseRow.id == FillRow.lease_id, isouter=True
        )
        if gpu is not None:
            query = query.where(FillRow.gpu == gpu)
        if since is not None:
            query = query.where(FillRow.created_at >= since)
        with self.db.read() as session:
            rows = session.execute(query).all()
            # Read the rows while the session is open: they expire when it commits.
            out = []
            for fill, hours in rows:
                created: datetime = fill.created_at
                out.append(
                    {
                        "id": f"svc-{fill.id}",
                        "gpu": fill.gpu,
                        "site": fill.site,
                        "interruptible": bool(fill.interruptible),
                        "gpus": int(fill.gpus),
                        "price_cny_per_gpu_hour": float(fill.price_cny_per_gpu_hour),
                        "hours": float(hours) if hours else 1.0,
                        "at_h": created.timestamp() / 3600.0,
                        "buyer": fill.buyer,
                        "seller": fill.seller,
                    }
                )
        return out
