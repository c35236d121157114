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
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
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


def place_order(
    session: Session,
    caller: Caller,
    items: Sequence[tuple[int, int]],
    *,
    request_id: int | None = None,
    quote_id: int | None = None,
    hours: float | None = None,
) -> tuple[Order, list[Lease]]:
    """Reserve every item or nothing; returns the order and its leases (one per offer)."""
    reserved: list[tuple[int, int, Any]] = []
    for offer_id, gpus in merge_items(items):
        row = session.execute(
            update(Offer)
            .where(Offer.id == offer_id, Offer.status == "open", Offer.available >= gpus)
            .values(available=Offer.available - gpus)
            .returning(
                Offer.seller,
                Offer.gpu,
                Offer.site,
                Offer.hub,
                Offer.price_cny_per_gpu_hour,
                Offer.interruptible,
            )
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            current = session.execute(
                select(Offer.available, Offer.status).where(Offer.id == offer_id)
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
    cost = sum(g * row.price_cny_per_gpu_hour for _, g, row in reserved)
    now = utcnow()
    order = Order(
        buyer=caller.tenant,
        request_id=request_id,
        quote_id=quote_id,
        status="filled",
        gpus=total_gpus,
        cost_cny_per_hour=cost,
        created_at=now,
    )
    session.add(order)
    session.flush()
    leases = [
        Lease(
            order_id=order.id,
            offer_id=offer_id,
            buyer=caller.tenant,
            seller=row.seller,
            gpu=row.gpu,
            site=row.site,
            hub=row.hub,
            gpus=gpus,
            price_cny_per_gpu_hour=row.price_cny_per_gpu_hour,
            hours=hours,
            status="active",
            created_at=now,
        )
        for offer_id, gpus, row in reserved
    ]
    session.add_all(leases)
    session.flush()
    session.add_all(
        Fill(
            order_id=order.id,
            lease_id=lease.id,
            offer_id=lease.offer_id,
            buyer=lease.buyer,
            seller=lease.seller,
            gpu=lease.gpu,
            site=lease.site,
            hub=lease.hub,
            gpus=lease.gpus,
            price_cny_per_gpu_hour=lease.price_cny_per_gpu_hour,
            interruptible=bool(row.interruptible),
            created_at=now,
        )
        for lease, (_, _, row) in zip(leases, reserved, strict=True)
    )
    session.flush()
    return order, leases


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
