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

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from suanli.errors import Conflict, InvalidRequest, NotFound
from suanli.store.keys import Caller
from suanli.store.models import Lease, Offer, utcnow

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


# The hot path talks to the driver directly (sqlite3 or psycopg): SQLAlchemy's per-statement
# overhead was most of an order's CPU time. Statements are written once with :name
# parameters and translated to the driver's style; the transaction is still the Session's.
_RESERVE_SQL = (
    "UPDATE offers SET available = available - :gpus"
    " WHERE id = :offer_id AND status = 'open' AND available >= :gpus"
    " RETURNING seller, gpu, site, hub, price_cny_per_gpu_hour, interruptible"
)
_INSERT_ORDER_SQL = (
    "INSERT INTO orders (buyer, request_id, quote_id, status, gpus, cost_cny_per_hour,"
    " created_at) VALUES (:buyer, :request_id, :quote_id, 'filled', :gpus, :cost,"
    " :created_at) RETURNING id"
)
_INSERT_LEASE_SQL = (
    "INSERT INTO leases (order_id, offer_id, buyer, seller, gpu, site, hub, gpus,"
    " price_cny_per_gpu_hour, hours, status, created_at, ended_at, kind, pricing, metered_h)"
    " VALUES (:order_id, :offer_id, :buyer, :seller, :gpu, :site, :hub, :gpus, :price,"
    " :hours, 'active', :created_at, NULL, 'direct', :pricing, 0) RETURNING id"
)
_INSERT_FILL_SQL = (
    "INSERT INTO fills (order_id, lease_id, offer_id, buyer, seller, gpu, site, hub, gpus,"
    " price_cny_per_gpu_hour, interruptible, created_at, kind, pricing) VALUES (:order_id,"
    " :lease_id, :offer_id, :buyer, :seller, :gpu, :site, :hub, :gpus, :price,"
    " :interruptible, :created_at, 'direct', :pricing)"
)
_PARAM = re.compile(r":([a-z_]+)")


@cache
def _driver_sql(sql: str, dialect: str) -> str:
    """``:name`` parameters in the driver's style (psycopg: ``%(name)s``)."""
    return _PARAM.sub(r"%(\1)s", sql) if dialect == "postgresql" else sql


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

    This is the exchange's hottest write: one conditional update per offer and an insert
    each for the order, leases and fills, sent straight to the driver inside the caller's
    transaction.
    """
    conn = session.connection()  # begins the transaction (BEGIN IMMEDIATE on SQLite)
    dialect = conn.dialect.name
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sqlite = dialect == "sqlite"
    reserved: list[tuple[int, int, tuple[Any, ...]]] = []
    try:
        for offer_id, gpus in merge_items(items):
            cursor.execute(_driver_sql(_RESERVE_SQL, dialect), {"offer_id": offer_id, "gpus": gpus})
            row = cursor.fetchone()
            if row is None:
                _explain_shortage(session, offer_id, gpus)
            reserved.append((offer_id, gpus, tuple(row)))
        total_gpus = sum(g for _, g, _ in reserved)
        cost = float(sum(g * row[4] for _, g, row in reserved))
        now = utcnow()
        # SQLite keeps naive UTC text in SQLAlchemy's format; PostgreSQL takes the datetime.
        at: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        cursor.execute(
            _driver_sql(_INSERT_ORDER_SQL, dialect),
            {"buyer": caller.tenant, "request_id": request_id, "quote_id": quote_id,
             "gpus": total_gpus, "cost": cost, "created_at": at},
        )  # fmt: skip
        order_id = int(cursor.fetchone()[0])
        stamp = iso(now)
        leases: list[dict[str, Any]] = []
        for offer_id, gpus, (seller, gpu, site, hub, price, interruptible) in reserved:
            shared = {
                "order_id": order_id, "offer_id": offer_id, "buyer": caller.tenant,
                "seller": seller, "gpu": gpu, "site": site, "hub": hub, "gpus": gpus,
                "price": float(price), "created_at": at,
                "pricing": "interruptible" if interruptible else "on-demand",
            }  # fmt: skip
            cursor.execute(_driver_sql(_INSERT_LEASE_SQL, dialect), {**shared, "hours": hours})
            lease_id = int(cursor.fetchone()[0])
            flag = int(bool(interruptible)) if sqlite else bool(interruptible)
            cursor.execute(
                _driver_sql(_INSERT_FILL_SQL, dialect),
                {**shared, "lease_id": lease_id, "interruptible": flag},
            )
            leases.append(
                {
                    "id": lease_id, "order_id": order_id, "offer_id": offer_id,
                    "buyer": caller.tenant, "seller": seller, "gpu": gpu, "site": site,
                    "hub": hub, "gpus": gpus, "price_cny_per_gpu_hour": float(price),
                    "hours": hours, "status": "active", "created_at": stamp, "ended_at": None,
                }
            )  # fmt: skip
    finally:
        cursor.close()
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


def _explain_shortage(session: Session, offer_id: int, gpus: int) -> NoReturn:
    """Why an offer could not give ``gpus``: unknown (404), or short or withdrawn (409)."""
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


def release_lease(session: Session, caller: Caller, lease_id: int) -> Lease:
    """End an active lease (direct or auction), billed up to now; its GPUs go back to the
    offer (:func:`suanli.store.ledger.release`)."""
    from suanli.store import ledger

    return ledger.release(session, caller, lease_id)


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
