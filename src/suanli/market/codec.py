"""Events, orders, fills and leases as plain JSON-ready dicts (and events back), so an event
log can be stored anywhere and replayed."""

from __future__ import annotations

from typing import Any

from suanli.errors import InvalidRequest
from suanli.market.clearing import Fill
from suanli.market.events import (
    Activate,
    CancelLease,
    CancelOrder,
    Clear,
    Deposit,
    Event,
    Meter,
    PlaceOrder,
    Preempt,
)
from suanli.market.leases import Lease
from suanli.market.orders import FEN_PER_CNY, Order, Side, parse_instrument


def order_to_dict(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "side": o.side.value,
        "instrument": o.instrument.key,
        "gpu": o.instrument.gpu,
        "hub": o.instrument.hub,
        "pricing": o.instrument.pricing.value,
        "start_h": o.instrument.start_h,
        "end_h": o.instrument.end_h,
        "account": o.account,
        "price_fen_per_gpu_hour": o.price_fen_per_gpu_hour,
        "price_cny_per_gpu_hour": o.price_fen_per_gpu_hour / FEN_PER_CNY,
        "quantity_gpus": o.quantity_gpus,
        "all_or_nothing": o.all_or_nothing,
        "priority": o.priority,
        "seq": o.seq,
        "source": o.source,
    }


def order_from_dict(d: dict[str, Any]) -> Order:
    try:
        return Order(
            id=str(d["id"]),
            side=Side(d["side"]),
            instrument=parse_instrument(str(d["instrument"])),
            account=str(d["account"]),
            price_fen_per_gpu_hour=int(d["price_fen_per_gpu_hour"]),
            quantity_gpus=int(d["quantity_gpus"]),
            all_or_nothing=bool(d.get("all_or_nothing", False)),
            priority=int(d.get("priority", 0)),
            seq=int(d.get("seq", -1)),
            source=str(d.get("source", "")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"malformed order record: {exc}", field="order") from None


def fill_to_dict(f: Fill) -> dict[str, Any]:
    return {
        "id": f.id,
        "instrument": f.instrument.key,
        "gpu": f.instrument.gpu,
        "hub": f.instrument.hub,
        "pricing": f.instrument.pricing.value,
        "bid_id": f.bid_id,
        "ask_id": f.ask_id,
        "buyer": f.buyer,
        "seller": f.seller,
        "gpus": f.gpus,
        "price_cny_per_gpu_hour": f.price_fen_per_gpu_hour / FEN_PER_CNY,
        "gpu_hours": f.gpu_hours,
        "amount_cny": f.amount_fen / FEN_PER_CNY,
        "cleared_at_h": f.cleared_at_h,
    }


def lease_to_dict(x: Lease) -> dict[str, Any]:
    return {
        "id": x.id,
        "fill_id": x.fill_id,
        "instrument": x.instrument.key,
        "buyer": x.buyer,
        "seller": x.seller,
        "gpus": x.gpus,
        "gpu_ids": list(x.gpu_ids),
        "price_cny_per_gpu_hour": x.price_fen_per_gpu_hour / FEN_PER_CNY,
        "start_h": x.start_h,
        "end_h": x.end_h,
        "priority": x.priority,
        "state": x.state.value,
        "activated_at_h": x.activated_at_h,
        "ended_at_h": x.ended_at_h,
        "metered_h": x.metered_h,
        "preempted_by": x.preempted_by,
    }


def event_to_dict(e: Event) -> dict[str, Any]:
    """An event as a dict with ``kind``; orders nested as :func:`order_to_dict`."""
    if isinstance(e, PlaceOrder):
        return {"kind": e.kind, "order": order_to_dict(e.order)}
    if isinstance(e, Preempt):
        return {"kind": e.kind, "order": order_to_dict(e.order), "at_h": e.at_h}
    if isinstance(e, CancelOrder):
        return {"kind": e.kind, "order_id": e.order_id}
    if isinstance(e, Clear):
        return {"kind": e.kind, "at_h": e.at_h, "preempt": e.preempt}
    if isinstance(e, Meter):
        return {"kind": e.kind, "at_h": e.at_h}
    if isinstance(e, (Activate, CancelLease)):
        return {"kind": e.kind, "lease_id": e.lease_id, "at_h": e.at_h}
    return {"kind": e.kind, "account": e.account, "amount_fen": e.amount_fen, "at_h": e.at_h}


def event_from_dict(d: dict[str, Any]) -> Event:
    kind = d.get("kind")
    try:
        if kind == "place_order":
            return PlaceOrder(order_from_dict(d["order"]))
        if kind == "preempt":
            return Preempt(order_from_dict(d["order"]), float(d["at_h"]))
        if kind == "cancel_order":
            return CancelOrder(str(d["order_id"]))
        if kind == "clear":
            return Clear(float(d["at_h"]), bool(d.get("preempt", True)))
        if kind == "meter":
            return Meter(float(d["at_h"]))
        if kind == "activate":
            return Activate(str(d["lease_id"]), float(d["at_h"]))
        if kind == "cancel_lease":
            return CancelLease(str(d["lease_id"]), float(d["at_h"]))
        if kind == "deposit":
            return Deposit(str(d["account"]), int(d["amount_fen"]), float(d["at_h"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"malformed {kind} event: {exc}", field="event") from None
    raise InvalidRequest(f"unknown event kind {kind!r}", field="kind")
