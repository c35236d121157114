"""``/market/...`` and ``/index``: the call-auction market and the public price index.

Sellers post asks, buyers post bids (``POST /market/orders``); the operator runs a clearing
round (``POST /market/clear``), which turns fills into pending leases; buyers activate or
cancel their leases; the operator meters. Buyers and sellers see their own orders, fills,
leases and balances, the operator everything. ``GET /index`` (also ``/api/v1/index``) is
public. Times are hours on the exchange clock (hours since the Unix epoch).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from suanli.api.deps import Caller, DatabaseDep, Paging, get_caller, require_roles
from suanli.api.idempotency import run_post
from suanli.api.routes._common import AUTH_RESPONSES
from suanli.errors import Forbidden, InvalidRequest, NotFound
from suanli.inputs import Name, StrictInput
from suanli.market.codec import fill_to_dict, lease_to_dict, order_to_dict
from suanli.market.events import Activate, CancelLease, CancelOrder, Clear, Meter, PlaceOrder
from suanli.market.orders import Order, Side, fen, instrument
from suanli.store.db import Database
from suanli.store.market_tables import MarketStore

router = APIRouter(tags=["market"], responses=AUTH_RESPONSES)


def now_h() -> float:
    return time.time() / 3600.0


def store_for(app: Any) -> MarketStore:
    """The app's market store (made on first use)."""
    found: MarketStore | None = getattr(app.state, "market_store", None)
    if found is None:
        db: Database = app.state.db
        found = MarketStore(db)
        app.state.market_store = found
    return found


def store(request: Request) -> MarketStore:
    """The requesting app's market store (a FastAPI dependency)."""
    return store_for(request.app)


StoreDep = Annotated[MarketStore, Depends(store)]


class MarketOrderIn(StrictInput):
    side: Literal["bid", "ask"]
    gpu: Name = Field(max_length=64, examples=["H100"])
    hub: Name = Field(max_length=100, examples=["zhongwei"])
    pricing: Literal["on-demand", "interruptible", "reserved"] = "on-demand"
    start_h: float = Field(ge=0, le=1e7)
    end_h: float = Field(ge=0, le=1e7)
    price_cny_per_gpu_hour: float = Field(ge=0, le=100_000)
    quantity_gpus: int = Field(ge=1, le=1_000_000)
    all_or_nothing: bool = False
    priority: int = Field(default=0, ge=0, le=1000)


def _account(caller: Caller) -> str:
    return caller.tenant


def _visible(caller: Caller, *accounts: str) -> bool:
    return caller.is_operator or caller.tenant in accounts


@router.post("/market/orders", status_code=201)
def place_order(
    body: MarketOrderIn,
    request: Request,
    db: DatabaseDep,
    market: StoreDep,
    caller: Caller = Depends(require_roles("buyer", "seller")),
) -> JSONResponse:
    """A seller's ask or a buyer's bid on an instrument (gpu, hub, pricing, window)."""
    expected = "ask" if caller.role == "seller" else "bid"
    if body.side != expected:
        raise Forbidden(f"a {caller.role} key places {expected}s", hint=f"use side={expected}")
    inst = instrument(body.gpu, body.hub, body.pricing, body.start_h, body.end_h)
    if body.side == "ask" and body.all_or_nothing:
        raise InvalidRequest("only bids can be all-or-nothing", field="all_or_nothing")

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        order = Order(
            id=f"{body.side}-{uuid.uuid4().hex[:16]}",
            side=Side(body.side),
            instrument=inst,
            account=_account(caller),
            price_fen_per_gpu_hour=fen(body.price_cny_per_gpu_hour),
            quantity_gpus=body.quantity_gpus,
            all_or_nothing=body.all_or_nothing,
            priority=body.priority,
        )
        state = market.append(session, PlaceOrder(order))
        return 201, order_to_dict(state.book.get(order.id))

    return run_post(request, db, caller, body.model_dump(mode="json"), action)


@router.get("/market/orders")
def list_orders(
    market: StoreDep, page: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Resting orders (own; all for the operator)."""
    rows = [order_to_dict(o) for o in market.state().book.orders if _visible(caller, o.account)]
    return page.wrap(list(rows[page.offset : page.offset + page.limit]), len(rows))


@router.delete("/market/orders/{order_id}")
def cancel_order(
    order_id: str,
    db: DatabaseDep,
    market: StoreDep,
    caller: Caller = Depends(get_caller),
) -> dict[str, Any]:
    """Withdraw a resting order (its owner or the operator)."""
    book = market.state().book
    order = next((o for o in book.orders if o.id == order_id), None)
    if order is None or not _visible(caller, order.account):
        raise NotFound(f"no resting order {order_id!r}")
    with db.write() as session:
        market.append(session, CancelOrder(order_id))
    return {"cancelled": order_id}


@router.post("/market/clear")
def run_clearing(
    request: Request,
    db: DatabaseDep,
    market: StoreDep,
    caller: Caller = Depends(require_roles("operator")),
) -> JSONResponse:
    """Run one call auction per instrument now; fills become pending leases."""
    at = now_h()

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        state = market.append(session, Clear(at))
        result = state.last_clearing
        body: dict[str, Any] = {"cleared_at_h": at, "instruments": [], "fills": 0}
        if result is not None:
            body["fills"] = len(result.fills)
            body["volume_gpus"] = result.volume_gpus
            body["instruments"] = [
                {
                    "instrument": c.instrument.key,
                    "price_cny_per_gpu_hour": None
                    if c.price_fen_per_gpu_hour is None
                    else c.price_fen_per_gpu_hour / 100,
                    "volume_gpus": c.volume_gpus,
                    "bids": c.bids,
                    "asks": c.asks,
                    "method": c.method,
                }
                for c in result.instruments
            ]
        return 200, body

    return run_post(request, db, caller, {}, action)


@router.get("/market/fills")
def list_fills(
    market: StoreDep, page: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Fills of the call auctions, newest first (own; all for the operator)."""
    rows = [fill_to_dict(f) for f in reversed(market.state().fills)
            if _visible(caller, f.buyer, f.seller)]  # fmt: skip
    return page.wrap(list(rows[page.offset : page.offset + page.limit]), len(rows))


@router.get("/market/leases")
def list_leases(
    market: StoreDep, page: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Leases made by clearing (own; all for the operator)."""
    rows = [lease_to_dict(x) for x in market.state().leases.leases.values()
            if _visible(caller, x.buyer, x.seller)]  # fmt: skip
    return page.wrap(list(rows[page.offset : page.offset + page.limit]), len(rows))


def _lease_action(
    lease_id: str, kind: str, db: Database, market: MarketStore, caller: Caller
) -> dict[str, Any]:
    leases = market.state().leases.leases
    lease = leases.get(lease_id)
    if lease is None or not (caller.is_operator or caller.tenant == lease.buyer):
        raise NotFound(f"no lease {lease_id!r}")
    event = Activate(lease_id, now_h()) if kind == "activate" else CancelLease(lease_id, now_h())
    with db.write() as session:
        state = market.append(session, event)
    return lease_to_dict(state.leases.get(lease_id))


@router.post("/market/leases/{lease_id}/activate")
def activate_lease(
    lease_id: str, db: DatabaseDep, market: StoreDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """pending -> active: the buyer prepays the window into escrow."""
    return _lease_action(lease_id, "activate", db, market, caller)


@router.post("/market/leases/{lease_id}/cancel")
def cancel_lease(
    lease_id: str, db: DatabaseDep, market: StoreDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Cancel a pending or active lease; unused prepaid rent is refunded."""
    return _lease_action(lease_id, "cancel", db, market, caller)


@router.post("/market/meter")
def meter_leases(
    db: DatabaseDep, market: StoreDep, caller: Caller = Depends(require_roles("operator"))
) -> dict[str, Any]:
    """Bill every active lease its whole hours used so far (operator)."""
    with db.write() as session:
        state = market.append(session, Meter(now_h()))
    return {"metered_at_h": now_h(), "transactions": state.ledger.count}


@router.get("/market/balances")
def balances(market: StoreDep, caller: Caller = Depends(get_caller)) -> dict[str, Any]:
    """Ledger balances in CNY: every account for the operator, one's own otherwise."""
    ledger = market.state().ledger
    own = {f"buyer:{caller.tenant}", f"seller:{caller.tenant}", f"external:{caller.tenant}"}
    rows = {k: v / 100 for k, v in ledger.accounts().items() if caller.is_operator or k in own}
    body: dict[str, Any] = {"balances_cny": rows}
    if caller.is_operator:
        body["total_fen"] = ledger.total()
    return body


@router.get("/market/events")
def list_events(
    market: StoreDep, page: Paging, caller: Caller = Depends(require_roles("operator"))
) -> dict[str, Any]:
    """The market's event log, oldest first (operator): replaying it rebuilds the market."""
    from suanli.market.codec import event_to_dict

    log = market.state().log
    rows = [event_to_dict(e) for e in log[page.offset : page.offset + page.limit]]
    return page.wrap(list(rows), len(log))


@router.get("/index")
@router.get("/api/v1/index")
def price_index(
    market: StoreDep,
    gpu: Annotated[str, Query(max_length=64)] = "H100",
    hub: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    pricing: Annotated[str, Query(pattern="^(on-demand|interruptible|reserved)$")] = "on-demand",
    days: Annotated[
        float | None, Query(gt=0, le=3650, description="look-back; default 7 (hour), 90 (day)")
    ] = None,
) -> dict[str, Any]:
    """The GPU rental price index (public): GPU-hour-weighted 10%-trimmed mean per period of
    the exchange's fills (call-auction fills and direct orders), never mixing pricing types.
    Only fills of the look-back window are read, so the cost does not grow with history."""
    from datetime import UTC, datetime

    from suanli.market.index import index_document
    from suanli.market.orders import resolve_gpu

    canonical = resolve_gpu(gpu)
    now = now_h()
    since_h = now - 24.0 * (days if days is not None else (7.0 if period == "hour" else 90.0))
    auction = [f for f in market.state().fills if f.cleared_at_h >= since_h]
    direct = market.service_fills(
        gpu=canonical, since=datetime.fromtimestamp(since_h * 3600.0, tz=UTC)
    )
    return index_document(
        auction, direct, gpu=gpu, hub=hub, period=period, pricing=pricing, now_h=now
    )
