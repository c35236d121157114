"""A buyer's request follows what happened to it::

    submitted ──quote──> quoted ──order or bid──> ordered ──a lease active──> active
        │                  │                                                    │
        └── cancel / expire┘──> cancelled / expired          all leases over ──> ended

``ordered``: a bid made for it rests in the auction or a lease of it is pending; ``active``:
at least one of its leases is active (a direct order's leases are active at once);
``ended``: it had leases and none is pending or active any more, and no bid rests.
:func:`refresh` recomputes the status from those rows after anything that can move it
(orders, bids, clearing, lease activation, release, cancel, metering); a request that was
never ordered expires :data:`EXPIRE_AFTER` after it was submitted (checked at each round).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from suanli.errors import Conflict
from suanli.store.models import Lease, MarketOrderRow, Order, RequestRow, utcnow

STATUSES = ("submitted", "quoted", "ordered", "active", "ended", "cancelled", "expired")
FINAL = ("cancelled", "expired")
EXPIRE_AFTER = timedelta(days=7)


def refresh(session: Session, request_ids: Iterable[int | None]) -> None:
    """Bring the status of each request in ``request_ids`` up to date (None ids skipped)."""
    for request_id in sorted({r for r in request_ids if r is not None}):
        row = session.get(RequestRow, request_id)
        if row is None or row.status in FINAL:
            continue
        counts = dict(
            session.execute(
                select(Lease.status, func.count(Lease.id))
                .join(Order, Order.id == Lease.order_id)
                .where(Order.request_id == request_id)
                .group_by(Lease.status)
            ).all()
        )
        resting = session.scalar(
            select(func.count(MarketOrderRow.id)).where(
                MarketOrderRow.request_id == request_id, MarketOrderRow.status == "open"
            )
        )
        if counts.get("active"):
            status = "active"
        elif counts.get("pending") or resting:
            status = "ordered"
        elif counts:
            status = "ended"
        else:
            continue  # nothing ordered (yet): submitted or quoted stays
        if row.status != status:
            row.status = status


def cancel(session: Session, request: RequestRow) -> RequestRow:
    """Withdraw a request that holds nothing (submitted, quoted, or ordered with only
    resting bids, which are cancelled too)."""
    refresh(session, [request.id])
    if request.status in ("active",) or (
        request.status == "ordered"
        and session.scalar(
            select(func.count(Lease.id))
            .join(Order, Order.id == Lease.order_id)
            .where(Order.request_id == request.id, Lease.status == "pending")
        )
    ):
        raise Conflict(
            f"request {request.id} is {request.status}",
            hint="release or cancel its leases first",
        )
    if request.status in FINAL or request.status == "ended":
        raise Conflict(f"request {request.id} is already {request.status}")
    for bid in session.scalars(
        select(MarketOrderRow.id).where(
            MarketOrderRow.request_id == request.id, MarketOrderRow.status == "open"
        )
    ).all():
        session.execute(
            update(MarketOrderRow).where(MarketOrderRow.id == bid).values(status="cancelled")
        )
    # bids hold no GPUs: nothing to give back
    request.status = "cancelled"
    session.flush()
    return request


def expire(session: Session) -> int:
    """Requests never ordered within :data:`EXPIRE_AFTER` of submission become expired."""
    cutoff = utcnow() - EXPIRE_AFTER
    if session.get_bind().dialect.name == "sqlite":
        cutoff = cutoff.replace(tzinfo=None)
    done = session.execute(
        update(RequestRow)
        .where(RequestRow.status.in_(("submitted", "quoted")), RequestRow.created_at < cutoff)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
