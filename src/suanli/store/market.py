"""The call-auction market in tables: one inventory with direct orders, one lease table.

* **The book** is ``market_orders``: a row per order, ``status='open'`` while it rests. An
  ask names one of its seller's offers and reserves its GPUs when placed, with the same
  conditional update direct orders use (``available >= n``, plus the CHECK
  ``available + reserved <= count``)::

      UPDATE offers SET available = available - :n, reserved = reserved + :n
       WHERE id = :offer AND seller = :seller AND status = 'open' AND available >= :n

  Cancelling or expiring an ask gives its remaining GPUs back (``available += r``).
* **A round** (:func:`run_round`) claims a ``clearing_rounds`` row whose ``period`` is
  unique, so however many nodes try, one round runs per period. It expires orders whose
  window has ended, clears the open book with :func:`suanli.market.clear` (the orders
  locked ``FOR UPDATE`` on PostgreSQL, so a concurrent cancel waits and then sees the
  round's outcome), and writes each fill as a row of ``orders`` (one per filled bid),
  ``leases`` (``kind='auction'``, pending) and ``fills`` (``kind='auction'``, catalog site
  ids): the same tables, ids and lifecycle as direct orders. A filled ask's GPUs move
  from ``reserved`` to the lease; releasing or cancelling the lease returns them.
* Nothing is replayed: start-up and a round read only the open book, whatever the history.

Rounds serialise on a PostgreSQL transaction-level advisory lock (SQLite: the database's
single writer); placing and cancelling orders does not take it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from suanli.errors import Conflict, InvalidRequest, NotFound
from suanli.market.clearing import clear
from suanli.market.orders import FEN_PER_CNY, Instrument, Order, Pricing, Side, hub_contains
from suanli.store.keys import Caller
from suanli.store.models import (
    ClearingRoundRow,
    Fill,
    Lease,
    MarketOrderRow,
    Offer,
    utcnow,
)
from suanli.store.models import (
    Order as OrderRow,
)

_ROUND_LOCK = 0x4D4B5452  # "MKTR": serialises clearing rounds across nodes on PostgreSQL


def now_h() -> float:
    """Now on the exchange clock: hours since the Unix epoch."""
    return time.time() / 3600.0


def order_to_dict(row: MarketOrderRow) -> dict[str, Any]:
    """A book row as the API shows it."""
    inst = _instrument(row)
    return {
        "id": row.id,
        "side": row.side,
        "instrument": inst.key,
        "gpu": row.gpu,
        "hub": row.hub,
        "pricing": row.pricing,
        "start_h": row.start_h,
        "end_h": row.end_h,
        "account": row.account,
        "offer_id": row.offer_id,
        "price_fen_per_gpu_hour": row.price_fen_per_gpu_hour,
        "price_cny_per_gpu_hour": row.price_fen_per_gpu_hour / FEN_PER_CNY,
        "quantity_gpus": row.quantity_gpus,
        "remaining_gpus": row.remaining_gpus,
        "all_or_nothing": row.all_or_nothing,
        "priority": row.priority,
        "status": row.status,
    }


def _instrument(row: MarketOrderRow) -> Instrument:
    # Rows were validated (canonical names) when placed, so no re-validation here.
    return Instrument(row.gpu, row.hub, Pricing(row.pricing), row.start_h, row.end_h)


def place(
    session: Session, caller: Caller, order: Order, *, offer_id: int | None
) -> dict[str, Any]:
    """Put a validated core order in the book; an ask reserves ``quantity_gpus`` of the
    caller's offer ``offer_id`` in the same transaction, or nothing is written."""
    if order.side is Side.ASK:
        if offer_id is None:
            raise InvalidRequest(
                "an ask must name the offer whose GPUs it sells",
                field="offer_id",
                hint="list an offer first (POST /offers), then ask with its offer_id",
            )
        _reserve(session, caller, offer_id, order)
    elif offer_id is not None:
        raise InvalidRequest("only asks name an offer", field="offer_id")
    inst = order.instrument
    row = MarketOrderRow(
        side=order.side.value, account=caller.tenant, offer_id=offer_id, gpu=inst.gpu,
        hub=inst.hub, pricing=inst.pricing.value, start_h=inst.start_h, end_h=inst.end_h,
        price_fen_per_gpu_hour=order.price_fen_per_gpu_hour, quantity_gpus=order.quantity_gpus,
        remaining_gpus=order.quantity_gpus, all_or_nothing=order.all_or_nothing,
        priority=order.priority, status="open", created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return order_to_dict(row)


def _reserve(session: Session, caller: Caller, offer_id: int, order: Order) -> None:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.seller != caller.tenant:
        raise NotFound(f"no offer {offer_id} of yours", context={"offer_id": offer_id})
    inst = order.instrument
    if offer.gpu != inst.gpu:
        raise InvalidRequest(
            f"offer {offer_id} lists {offer.gpu}, not {inst.gpu}", field="gpu",
            hint="omit gpu to take the offer's",
        )  # fmt: skip
    if not hub_contains(inst.hub, offer.site):
        raise InvalidRequest(
            f"offer {offer_id} is at {offer.site}, outside {inst.hub}", field="hub",
            hint="omit hub to take the offer's site",
        )  # fmt: skip
    n = order.quantity_gpus
    done = session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == "open", Offer.available >= n)
        .values(available=Offer.available - n, reserved=Offer.reserved + n)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(offer)
        raise Conflict(
            f"offer {offer_id} has {offer.available} free GPUs"
            + ("" if offer.status == "open" else f" and is {offer.status}")
            + f"; an ask cannot reserve {n}",
            hint="ask for at most the offer's available GPUs (field quantity_gpus)",
            context={"field": "quantity_gpus", "offer_id": offer_id, "available": offer.available},
        )


def _release_reservation(session: Session, offer_id: int | None, gpus: int) -> None:
    if offer_id is None or gpus <= 0:
        return
    session.execute(
        update(Offer)
        .where(Offer.id == offer_id)
        .values(available=Offer.available + gpus, reserved=Offer.reserved - gpus)
        .execution_options(synchronize_session=False)
    )


def cancel(session: Session, caller: Caller, order_id: int) -> dict[str, Any]:
    """Withdraw a resting order (its owner or the operator); an ask's GPUs go back."""
    row = session.get(MarketOrderRow, order_id)
    if row is None or not (caller.is_operator or row.account == caller.tenant):
        raise NotFound(f"no order {order_id}", context={"order_id": order_id})
    # Conditional on still being open: a round holding the row decides first.
    done = session.execute(
        update(MarketOrderRow)
        .where(MarketOrderRow.id == order_id, MarketOrderRow.status == "open")
        .values(status="cancelled")
        .returning(MarketOrderRow.remaining_gpus)
        .execution_options(synchronize_session=False)
    ).first()
    if done is None:
        session.refresh(row)
        raise Conflict(f"order {order_id} is {row.status}, not resting", hint="nothing to cancel")
    if row.side == Side.ASK.value:
        _release_reservation(session, row.offer_id, int(done[0]))
    session.refresh(row)
    return order_to_dict(row)


def book_page(
    session: Session, caller: Caller, *, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Orders (own; all for the operator), oldest first; ``status`` filters."""
    query = select(MarketOrderRow)
    if not caller.is_operator:
        query = query.where(MarketOrderRow.account == caller.tenant)
    if status is not None:
        query = query.where(MarketOrderRow.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(MarketOrderRow.id).limit(limit).offset(offset))
    return [order_to_dict(r) for r in rows], int(total)


def open_orders(session: Session) -> list[Order]:
    """The resting book as core orders (remaining quantities), in arrival order."""
    rows = session.scalars(
        select(MarketOrderRow).where(MarketOrderRow.status == "open").order_by(MarketOrderRow.id)
    )
    return [_core(r) for r in rows]


def _core(r: MarketOrderRow) -> Order:
    return Order(str(r.id), Side(r.side), _instrument(r), r.account, r.price_fen_per_gpu_hour,
                 r.remaining_gpus, r.all_or_nothing, r.priority, r.id)  # fmt: skip


def _lock_rounds(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ROUND_LOCK})


def run_round(
    session: Session, *, period: str, node: str = "", at_h: float | None = None
) -> dict[str, Any] | None:
    """Run one clearing round for ``period`` unless one already ran for it (then None).

    Returns a summary: round id, fills, volume and per-instrument outcome.
    """
    _lock_rounds(session)
    if session.scalar(select(ClearingRoundRow.id).where(ClearingRoundRow.period == period)):
        return None
    at = now_h() if at_h is None else at_h
    round_row = ClearingRoundRow(period=period, node=node, cleared_at_h=at, created_at=utcnow())
    session.add(round_row)
    session.flush()
    _expire(session, at)
    query = select(MarketOrderRow).where(MarketOrderRow.status == "open")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(session.scalars(query.order_by(MarketOrderRow.id)))
    by_id = {str(r.id): r for r in rows}
    orders = [_core(r) for r in rows]
    result = clear(orders, at_h=at)
    fills = list(result.fills)
    _write_fills(session, fills, by_id, round_row.id)
    for order_id, gpus in result.filled_gpus.items():
        row = by_id[order_id]
        row.remaining_gpus -= gpus
        if row.remaining_gpus == 0:
            row.status = "filled"
        if row.side == Side.ASK.value and row.offer_id is not None:
            session.execute(
                update(Offer)
                .where(Offer.id == row.offer_id)
                .values(reserved=Offer.reserved - gpus)
                .execution_options(synchronize_session=False)
            )
    round_row.fills = len(fills)
    round_row.volume_gpus = result.volume_gpus
    session.flush()
    return {
        "round": round_row.id,
        "period": period,
        "cleared_at_h": at,
        "fills": len(fills),
        "volume_gpus": result.volume_gpus,
        "instruments": [
            {
                "instrument": c.instrument.key,
                "price_cny_per_gpu_hour": None
                if c.price_fen_per_gpu_hour is None
                else c.price_fen_per_gpu_hour / FEN_PER_CNY,
                "volume_gpus": c.volume_gpus,
                "bids": c.bids,
                "asks": c.asks,
                "method": c.method,
            }
            for c in result.instruments
        ],
    }


def _expire(session: Session, at_h: float) -> None:
    """Orders whose window has ended stop resting; expired asks give their GPUs back."""
    expired = session.execute(
        update(MarketOrderRow)
        .where(MarketOrderRow.status == "open", MarketOrderRow.end_h <= at_h)
        .values(status="expired")
        .returning(MarketOrderRow.side, MarketOrderRow.offer_id, MarketOrderRow.remaining_gpus)
        .execution_options(synchronize_session=False)
    ).all()
    for side, offer_id, remaining in sorted(expired, key=lambda r: r[1] or 0):
        if side == Side.ASK.value:
            _release_reservation(session, offer_id, int(remaining))


def _write_fills(
    session: Session,
    fills: Sequence[Any],
    by_id: dict[str, MarketOrderRow],
    round_id: int,
) -> None:
    """Each fill as one lease and one fill row; one ``orders`` row per filled bid."""
    if not fills:
        return
    offer_ids = {by_id[f.ask_id].offer_id for f in fills}
    offers = {o.id: o for o in session.scalars(select(Offer).where(Offer.id.in_(offer_ids)))}
    now = utcnow()
    per_bid: dict[str, OrderRow] = {}
    for f in fills:
        if f.bid_id not in per_bid:
            per_bid[f.bid_id] = OrderRow(
                buyer=f.buyer, status="filled", gpus=0, cost_cny_per_hour=0.0, created_at=now
            )
        placed = per_bid[f.bid_id]
        placed.gpus += f.gpus
        placed.cost_cny_per_hour += f.gpus * f.price_fen_per_gpu_hour / FEN_PER_CNY
    session.add_all(per_bid.values())
    session.flush()
    leases: list[tuple[Any, Lease, Offer]] = []
    for f in fills:
        offer = offers[by_id[f.ask_id].offer_id]  # type: ignore[index]
        inst = f.instrument
        lease = Lease(
            order_id=per_bid[f.bid_id].id, offer_id=offer.id, buyer=f.buyer, seller=f.seller,
            gpu=offer.gpu, site=offer.site, hub=offer.hub, gpus=f.gpus,
            price_cny_per_gpu_hour=f.price_fen_per_gpu_hour / FEN_PER_CNY, hours=inst.hours,
            status="pending", created_at=now, kind="auction", pricing=inst.pricing.value,
            market_order_id=int(f.bid_id), start_h=inst.start_h, end_h=inst.end_h,
            metered_h=0.0,
        )  # fmt: skip
        leases.append((f, lease, offer))
    session.add_all([lease for _, lease, _ in leases])
    session.flush()
    session.add_all(
        Fill(
            order_id=lease.order_id,
            lease_id=lease.id,
            offer_id=offer.id,
            buyer=f.buyer,
            seller=f.seller,
            gpu=offer.gpu,
            site=offer.site,
            hub=offer.hub,
            gpus=f.gpus,
            price_cny_per_gpu_hour=lease.price_cny_per_gpu_hour,
            interruptible=f.instrument.pricing is Pricing.INTERRUPTIBLE,
            created_at=now,
            kind="auction",
            pricing=f.instrument.pricing.value,
            round_id=round_id,
        )
        for f, lease, offer in leases
    )
    session.flush()


def rounds_page(session: Session, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Clearing rounds, newest first."""
    total = session.scalar(select(func.count()).select_from(ClearingRoundRow)) or 0
    rows = session.scalars(
        select(ClearingRoundRow).order_by(ClearingRoundRow.id.desc()).limit(limit).offset(offset)
    )
    return [
        {"id": r.id, "period": r.period, "node": r.node, "cleared_at_h": r.cleared_at_h,
         "fills": r.fills, "volume_gpus": r.volume_gpus}
        for r in rows
    ], int(total)  # fmt: skip


def last_round(session: Session) -> dict[str, Any] | None:
    """The newest round (id, period, time, fills), or None before the first."""
    row = session.scalars(select(ClearingRoundRow).order_by(ClearingRoundRow.id.desc())).first()
    if row is None:
        return None
    return {"id": row.id, "period": row.period, "cleared_at_h": row.cleared_at_h,
            "fills": row.fills}  # fmt: skip
