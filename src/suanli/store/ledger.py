"""One lease lifecycle and one double-entry ledger for direct orders and auction fills.

::

    pending ──activate──> active ──(term over, or release)──> ended
       └──cancel──> cancelled <──cancel──┘   (preempted: interruptible, by the operator)

A direct order's lease is active at once; an auction fill's lease is pending until its
buyer activates it. While active, a lease is billed by :func:`meter` from its buyer to its
seller, less the platform fee: cumulative and rounded once (``due(h) = round(price_fen x
gpus x h)``), so many small meterings bill exactly what one would. Every transaction is a
set of ``ledger_entries`` in integer fen that sums to zero. A lease that ends for any reason
is metered up to that moment and gives its GPUs back to its offer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from suanli.errors import Conflict, NotFound
from suanli.market.ledger import PLATFORM_FEES, fee_fen
from suanli.market.orders import fen
from suanli.market.rules import MarketRules
from suanli.store.keys import Caller
from suanli.store.models import Lease, LedgerEntryRow, Offer, utcnow

LIVE = ("pending", "active")
RULES = MarketRules()


def buyer_account(tenant: str) -> str:
    return f"buyer:{tenant}"


def seller_account(tenant: str) -> str:
    return f"seller:{tenant}"


def _term_end(lease: Lease) -> datetime | None:
    """When an active lease's term is over: its auction window's end, or ``hours`` after it
    started (a direct order with a term); None for an open-ended lease."""
    from datetime import UTC, timedelta

    if lease.end_h is not None:
        return datetime.fromtimestamp(lease.end_h * 3600.0, UTC)
    if lease.hours:
        return _started(lease) + timedelta(hours=lease.hours)
    return None


def _started(lease: Lease) -> datetime:
    return lease.activated_at or lease.created_at


def _bill(session: Session, lease: Lease, until: datetime) -> int:
    """Bill ``lease`` up to ``until`` (never past its term); the fen billed now."""
    end = _term_end(lease)
    stop = min(until, end) if end is not None else until
    used_h = max(0.0, (stop - _started(lease)).total_seconds() / 3600.0)
    if used_h <= lease.metered_h:
        return 0
    price = fen(lease.price_cny_per_gpu_hour)
    due = round(price * lease.gpus * used_h) - round(price * lease.gpus * lease.metered_h)
    lease.metered_h = used_h
    if due <= 0:
        return 0
    fee = fee_fen(due, RULES.fee_bps)
    txn = f"meter:{lease.id}:{used_h:.6f}"
    at = utcnow()
    session.add_all(
        [
            LedgerEntryRow(txn=txn, account=buyer_account(lease.buyer), amount_fen=-due,
                           lease_id=lease.id, memo="rent", created_at=at),
            LedgerEntryRow(txn=txn, account=seller_account(lease.seller), amount_fen=due - fee,
                           lease_id=lease.id, memo="rent", created_at=at),
            LedgerEntryRow(txn=txn, account=PLATFORM_FEES, amount_fen=fee, lease_id=lease.id,
                           memo="fee", created_at=at),
        ]
    )  # fmt: skip
    return due


def _finish(session: Session, lease: Lease, status: str, at: datetime) -> None:
    """Meter ``lease`` up to ``at``, close it and give its GPUs back to its offer."""
    if lease.status == "active":
        _bill(session, lease, at)
    lease.status = status
    lease.ended_at = at
    session.execute(
        update(Offer)
        .where(Offer.id == lease.offer_id)
        .values(available=Offer.available + lease.gpus)
        .execution_options(synchronize_session=False)
    )


def _own_lease(session: Session, caller: Caller, lease_id: int) -> Lease:
    query = select(Lease).where(Lease.id == lease_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    lease = session.scalars(query).first()
    if lease is None or not (caller.is_operator or caller.tenant == lease.buyer):
        raise NotFound(f"no lease {lease_id}", context={"lease_id": lease_id})
    return lease


def activate(session: Session, caller: Caller, lease_id: int) -> Lease:
    """pending -> active (the buyer's confirmation; billing starts now)."""
    lease = _own_lease(session, caller, lease_id)
    if lease.status != "pending":
        raise Conflict(f"lease {lease_id} is {lease.status}", hint="only a pending lease activates")
    lease.status, lease.activated_at = "active", utcnow()
    session.flush()
    return lease


def release(session: Session, caller: Caller, lease_id: int) -> Lease:
    """active -> ended early, billed up to now; its GPUs go back on the offer."""
    lease = _own_lease(session, caller, lease_id)
    if lease.status != "active":
        raise Conflict(f"lease {lease_id} is not active", hint="only an active lease can end")
    _finish(session, lease, "ended", utcnow())
    session.flush()
    return lease


def cancel(session: Session, caller: Caller, lease_id: int) -> Lease:
    """pending or active -> cancelled, billed up to now; its GPUs go back on the offer."""
    lease = _own_lease(session, caller, lease_id)
    if lease.status not in LIVE:
        raise Conflict(f"lease {lease_id} is {lease.status}", hint="it has already ended")
    _finish(session, lease, "cancelled", utcnow())
    session.flush()
    return lease


def meter(session: Session, at: datetime | None = None) -> dict[str, int]:
    """Bill every active lease up to ``at`` (default now); leases whose term is over end.

    Returns how many leases were billed and ended, and the fen billed.
    """
    moment = at or utcnow()
    query = select(Lease).where(Lease.status == "active").order_by(Lease.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    billed = ended = total = 0
    for lease in session.scalars(query):
        due = _bill(session, lease, moment)
        billed += due > 0
        total += due
        end = _term_end(lease)
        if end is not None and end <= moment:
            _finish(session, lease, "ended", end)
            ended += 1
    session.flush()
    return {"leases_billed": billed, "leases_ended": ended, "billed_fen": total}


def balances_page(
    session: Session, caller: Caller, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int, int]:
    """Account balances (own accounts; every account for the operator), the count of
    accounts, and the sum of every posting (zero in a sound ledger)."""
    query = select(LedgerEntryRow.account, func.sum(LedgerEntryRow.amount_fen)).group_by(
        LedgerEntryRow.account
    )
    if not caller.is_operator:
        mine = (buyer_account(caller.tenant), seller_account(caller.tenant))
        query = query.where(LedgerEntryRow.account.in_(mine))
    total_accounts = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(LedgerEntryRow.account).limit(limit).offset(offset))
    items = [
        {"account": a, "balance_fen": int(b or 0), "balance_cny": int(b or 0) / 100}
        for a, b in rows
    ]
    grand = int(session.scalar(select(func.coalesce(func.sum(LedgerEntryRow.amount_fen), 0))) or 0)
    return items, int(total_accounts), grand
