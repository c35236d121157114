"""``/market/...`` and ``/index``: the call-auction market and the public price index.

Sellers post asks on their own offers (an ask reserves the offer's GPUs while it rests),
buyers post bids (``POST /market/orders``); a clearing round (``POST /market/clear``, or
the periodic one of ``suanli serve --clear-every``) turns fills into pending leases in the
same ``leases`` and ``fills`` tables as direct orders; buyers activate or cancel their
leases; the operator meters. Buyers and sellers see their own orders, fills, leases and
balances, the operator everything; every list is paged. ``GET /index`` (also
``/api/v1/index``) is public. Times are hours on the exchange clock (hours since the Unix
epoch).
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from suanli.api.deps import Caller, DatabaseDep, Paging, get_caller, require_roles
from suanli.api.idempotency import run_post
from suanli.api.routes._common import AUTH_RESPONSES, PathId, dump
from suanli.api.schemas import FillOut, LeaseOut
from suanli.errors import Forbidden, InvalidRequest
from suanli.inputs import Name, StrictInput
from suanli.market.orders import Order, Side, fen, instrument, validate
from suanli.store import ledger
from suanli.store import market as book
from suanli.store.db import Database
from suanli.store.index import price_index_document
from suanli.store.models import Fill, Lease, Offer
from suanli.store.orders import page as page_of
from suanli.store.requests import scoped

router = APIRouter(tags=["market"], responses=AUTH_RESPONSES)

NODE = f"{socket.gethostname()}:{os.getpid()}"


class MarketOrderIn(StrictInput):
    side: Literal["bid", "ask"]
    offer_id: int | None = Field(
        default=None, ge=1, description="asks: the seller's offer whose GPUs are sold"
    )
    gpu: Name | None = Field(
        default=None, max_length=64, examples=["H100"], description="asks: default the offer's"
    )
    hub: Name | None = Field(
        default=None, max_length=100, examples=["zhongwei"],
        description="site, hub or region; asks: default the offer's site",
    )  # fmt: skip
    pricing: Literal["on-demand", "interruptible", "reserved"] = "on-demand"
    start_h: float = Field(ge=0, le=1e7)
    end_h: float = Field(ge=0, le=1e7)
    price_cny_per_gpu_hour: float = Field(ge=0, le=100_000)
    quantity_gpus: int = Field(ge=1, le=1_000_000)
    all_or_nothing: bool = False
    priority: int = Field(default=0, ge=0, le=1000)
    request_id: int | None = Field(
        default=None, ge=1, description="bids: the buyer's request this bid is for"
    )


def _ask_defaults(db: Database, body: MarketOrderIn) -> tuple[str, str]:
    """(gpu, hub) of an order: an ask without them takes its offer's."""
    gpu, hub = body.gpu, body.hub
    if body.side == "ask" and body.offer_id is not None and (gpu is None or hub is None):
        with db.read() as session:
            offer = session.get(Offer, body.offer_id)
            if offer is not None:
                gpu, hub = gpu or offer.gpu, hub or offer.site
    if gpu is None:
        raise InvalidRequest("gpu is required", field="gpu")
    if hub is None:
        raise InvalidRequest("hub is required", field="hub")
    return gpu, hub


@router.post("/market/orders", status_code=201)
def place_order(
    body: MarketOrderIn,
    request: Request,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("buyer", "seller")),
) -> JSONResponse:
    """A seller's ask on one of its offers (reserving its GPUs) or a buyer's bid on an
    instrument (gpu, hub, pricing, window)."""
    expected = "ask" if caller.role == "seller" else "bid"
    if body.side != expected:
        raise Forbidden(f"a {caller.role} key places {expected}s", hint=f"use side={expected}")
    gpu, hub = _ask_defaults(db, body)
    inst = instrument(gpu, hub, body.pricing, body.start_h, body.end_h)
    order = Order(
        id=f"new-{uuid.uuid4().hex[:8]}",
        side=Side(body.side),
        instrument=inst,
        account=caller.tenant,
        price_fen_per_gpu_hour=fen(body.price_cny_per_gpu_hour),
        quantity_gpus=body.quantity_gpus,
        all_or_nothing=body.all_or_nothing,
        priority=body.priority,
    )
    validate(order)

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        return 201, book.place(
            session, caller, order, offer_id=body.offer_id, request_id=body.request_id
        )

    return run_post(request, db, caller, body.model_dump(mode="json"), action)


@router.get("/market/orders")
def list_orders(
    db: DatabaseDep,
    page: Paging,
    status: Annotated[
        Literal["open", "filled", "cancelled", "expired"] | None,
        Query(description="default: resting (open) orders"),
    ] = "open",
    caller: Caller = Depends(get_caller),
) -> dict[str, Any]:
    """Orders in the book, oldest first (own; all for the operator)."""
    with db.read() as session:
        rows, total = book.book_page(
            session, caller, status=status, limit=page.limit, offset=page.offset
        )
    return page.wrap(list(rows), total)


@router.delete("/market/orders/{order_id}")
def cancel_order(
    order_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Withdraw a resting order (its owner or the operator); an ask's GPUs go back."""
    with db.write() as session:
        order = book.cancel(session, caller, order_id)
    return {"cancelled": order_id, "order": order}


@router.post("/market/clear")
def run_clearing(
    request: Request, db: DatabaseDep, caller: Caller = Depends(require_roles("operator"))
) -> JSONResponse:
    """Run one call auction per instrument now; fills become pending leases."""

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        summary = book.run_round(session, period=f"manual:{uuid.uuid4().hex}", node=NODE)
        assert summary is not None  # a fresh period is never taken
        return 200, summary

    return run_post(request, db, caller, {}, action)


@router.get("/market/rounds")
def list_rounds(
    db: DatabaseDep, page: Paging, caller: Caller = Depends(require_roles("operator"))
) -> dict[str, Any]:
    """Clearing rounds, newest first (operator): which node ran which period."""
    with db.read() as session:
        rows, total = book.rounds_page(session, limit=page.limit, offset=page.offset)
    return page.wrap(list(rows), total)


@router.get("/market/fills")
def list_fills(
    db: DatabaseDep, page: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Fills of the call auctions, newest first (own; all for the operator); rows of the
    one ``/fills`` table."""
    with db.read() as session:
        query = scoped(caller, Fill).where(Fill.kind == "auction")
        rows, total = page_of(session, query, limit=page.limit, offset=page.offset)
        items = [dump(FillOut, r) for r in rows]
    return page.wrap(list(items), total)


@router.get("/market/leases")
def list_leases(
    db: DatabaseDep, page: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Leases made by clearing (own; all for the operator); rows of the one ``/leases``
    table."""
    with db.read() as session:
        query = scoped(caller, Lease).where(Lease.kind == "auction")
        rows, total = page_of(session, query, limit=page.limit, offset=page.offset)
        items = [dump(LeaseOut, r) for r in rows]
    return page.wrap(list(items), total)


@router.post("/market/leases/{lease_id}/activate")
def activate_lease(
    lease_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """pending -> active: billing starts."""
    with db.write() as session:
        return dump(LeaseOut, ledger.activate(session, caller, lease_id))


@router.post("/market/leases/{lease_id}/cancel")
def cancel_lease(
    lease_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Cancel a pending or active lease (billed up to now); its GPUs go back on the offer."""
    with db.write() as session:
        return dump(LeaseOut, ledger.cancel(session, caller, lease_id))


@router.post("/market/meter")
def meter_leases(
    db: DatabaseDep, caller: Caller = Depends(require_roles("operator"))
) -> dict[str, Any]:
    """Bill every active lease, direct or auction, up to now (operator)."""
    with db.write() as session:
        return ledger.meter(session)


@router.get("/market/balances")
def balances(db: DatabaseDep, page: Paging, caller: Caller = Depends(get_caller)) -> dict[str, Any]:
    """Ledger balances in fen and CNY: every account for the operator (with the sum of all
    postings, which is zero), one's own otherwise."""
    with db.read() as session:
        items, total, grand = ledger.balances_page(
            session, caller, limit=page.limit, offset=page.offset
        )
    out = page.wrap(list(items), total)
    if caller.is_operator:
        out["total_fen"] = grand
    return out


@router.get("/index")
@router.get("/api/v1/index")
def price_index(
    db: DatabaseDep,
    gpu: Annotated[str, Query(max_length=64)] = "H100",
    hub: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    pricing: Annotated[str, Query(pattern="^(on-demand|interruptible|reserved)$")] = "on-demand",
    days: Annotated[
        float | None, Query(gt=0, le=3650, description="look-back; default 7 (hour), 90 (day)")
    ] = None,
) -> dict[str, Any]:
    """The GPU rental price index (public): GPU-hour-weighted 10%-trimmed mean per period of
    the exchange's fills (direct orders and call auctions, one table), never mixing pricing
    types, over the look-back window (:func:`suanli.store.index.price_index_document`)."""
    with db.read() as session:
        return price_index_document(
            session, gpu=gpu, hub=hub, period=period, pricing=pricing, days=days
        )
