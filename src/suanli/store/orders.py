"""Orders, leases and fills: committing a placement without ever overselling.

An order reserves ``gpus`` on each of its offers with one conditional update per offer::

    UPDATE offers SET available = available - :n
     WHERE id = :id AND status = 'open' AND available >= :n
    RETURNING seller, gpu, site, hub, price_cny_per_gpu_hour, interruptible

inside one write transaction (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL the update takes
the row lock and re-checks ``available`` after any concurrent writer commits). Offers are
touched in id order, so two orders over the same offers cannot deadlock. If any offer is
short, the whole order rolls back: an order is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from suanli.errors import Conflict, InvalidRequest, NotFound
from suanli.store.keys import Caller
from suanli.store.models import Fill, Lease, Offer, Order, utcnow

MAX_ITEMS = 100
T = TypeVar("T")


def merge_items(items: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(offer id, gpus) pairs summed per offer, in offer-id order (the locking order)."""
    merged: dict[int, int] = {}
    for offer_id, gpus in items:
        if gpus < 1:
            raise InvalidRequest("each item needs at least 1 GPU", field="items.gpus")
        merged[offer_id] = merged.get(offer_id, 0) + gpus
    if not merged:
        raise InvalidRequest("an order needs at least one item", field="items")
    if len(merged) > MAX_ITEMS:
        raise InvalidRequest(f"an order may span at most {MAX_ITEMS} offers", field="items")
    return sorted(merged.items())


_OFFERS = cast(Table, Offer.__table__)
_ORDERS = cast(Table, Order.__table__)
_LEASES = cast(Table, Lease.__table__)
_FILLS = cast(Table, Fill.__table__)
# Built once: the hot path only binds parameters (SQLAlchemy caches the compiled form).
_RESERVE = (
    update(_OFFERS)
    .where(
        _OFFERS.c.id == bindparam("offer_id"),
        _OFFERS.c.status == "open",
        _OFFERS.c.available >= bindparam("gpus"),
    )
    .values(available=_OFFERS.c.available - bindparam("gpus"))
    .returning(
        _OFFERS.c.seller,
        _OFFERS.c.gpu,
        _OFFERS.c.site,
        _OFFERS.c.hub,
        _OFFERS.c.price_cny_per_gpu_hour,
        _OFFERS.c.interruptible,
    )
)
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_LEASE = insert(_LEASES).returning(_LEASES.c.id)
_INSERT_FILL = insert(_FILLS)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as the API's response models write it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def place_order(
    session: Session,
    caller: Caller,
    items: Sequence[tuple[int, int]],
    *,
    request_id: int | None = None,
    quote_id: int | None = None,
    hours: float | None = None,
) -> dict[str, Any]:
    """Reserve every item or nothing; returns the order (JSON-ready, as the API shows it)
    with its leases, one per offer.

    This is the exchange's hottest write, so it uses SQLAlchemy Core (no ORM unit of work):
    one conditional update per offer and three inserts, all in the caller's transaction.
    """
    conn = session.connection()
    reserved: list[tuple[int, int, Any]] = []
    for offer_id, gpus in merge_items(items):
        row = conn.execute(_RESERVE, {"offer_id": offer_id, "gpus": gpus}).first()
        if row is None:
            current = conn.execute(
                select(_OFFERS.c.available, _OFFERS.c.status).where(_OFFERS.c.id == offer_id)
            ).first()
            if current is None:
                raise NotFound(f"no offer {offer_id}", context={"offer_id": offer_id})
            raise Conflict(
                f"offer {offer_id} has {current.available} free GPUs"
                + ("" if current.status == "open" else f" and is {current.status}")
                + f"; cannot reserve {gpus}",
                hint="ask for a new quote; the capacity was taken",
                context={"offer_id": offer_id, "available": current.available},
            )
        reserved.append((offer_id, gpus, row))
    total_gpus = sum(g for _, g, _ in reserved)
    cost = float(sum(g * row.price_cny_per_gpu_hour for _, g, row in reserved))
    now = utcnow()
    order_id = conn.execute(
        _INSERT_ORDER,
        {
            "buyer": caller.tenant,
            "request_id": request_id,
            "quote_id": quote_id,
            "status": "filled",
            "gpus": total_gpus,
            "cost_cny_per_hour": cost,
            "created_at": now,
        },
    ).scalar_one()
    stamp = iso(now)
    leases: list[dict[str, Any]] = []
    for offer_id, gpus, row in reserved:
        lease = {
            "order_id": order_id,
            "offer_id": offer_id,
            "buyer": caller.tenant,
            "seller": row.seller,
            "gpu": row.gpu,
            "site": row.site,
            "hub": row.hub,
            "gpus": gpus,
            "price_cny_per_gpu_hour": float(row.price_cny_per_gpu_hour),
            "hours": hours,
            "status": "active",
            "created_at": now,
            "ended_at": None,
        }
        lease_id = conn.execute(_INSERT_LEASE, lease).scalar_one()
        conn.execute(
            _INSERT_FILL,
            {
                "order_id": order_id,
                "lease_id": lease_id,
                "offer_id": offer_id,
                "buyer": caller.tenant,
                "seller": row.seller,
                "gpu": row.gpu,
                "site": row.site,
                "hub": row.hub,
                "gpus": gpus,
                "price_cny_per_gpu_hour": float(row.price_cny_per_gpu_hour),
                "interruptible": bool(row.interruptible),
                "created_at": now,
            },
        )
        leases.append({"id": lease_id, **lease, "created_at": stamp})
    return {
        "id": order_id,
        "buyer": caller.tenant,
        "request_id": request_id,
        "quote_id": quote_id,
        "status": "filled",
        "gpus": total_gpus,
        "cost_cny_per_hour": cost,
        "created_at": stamp,
        "leases": leases,
    }


def release_lease(session: Session, caller: Caller, lease_id: int) -> Lease:
    """End an active lease and give its GPUs back to the offer."""
    lease = session.get(Lease, lease_id)
    if lease is None or not visible(caller, lease.buyer, None):
        raise NotFound(f"no lease {lease_id}", context={"lease_id": lease_id})
    result = session.execute(
        update(Lease)
        .where(Lease.id == lease_id, Lease.status == "active")
        .values(status="ended", ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"lease {lease_id} is not active", hint="only an active lease can end")
    session.execute(
        update(Offer)
        .where(Offer.id == lease.offer_id)
        .values(available=Offer.available + lease.gpus)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lease)
    return lease


def visible(caller: Caller, buyer: str | None, seller: str | None) -> bool:
    """Whether ``caller`` may see a row owned by ``buyer`` and/or ``seller``."""
    if caller.is_operator:
        return True
    if caller.role == "buyer":
        return buyer is not None and buyer == caller.tenant
    return seller is not None and seller == caller.tenant


def page(session: Session, query: Select[Any], *, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of ``query`` plus the total number of rows it matches."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, int(total)
