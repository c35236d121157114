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
from functools import cache
from typing import Any, NoReturn, TypeVar

from sqlalchemy import (
    Integer,
    Select,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

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


# The hot path talks to the driver directly (sqlite3 or psycopg): SQLAlchemy's per-execution
# overhead was most of an order's CPU time. The statements are SQLAlchemy Core, built from the
# models' tables (a column is spelled once, in the model), and compiled once per dialect to
# the driver's own SQL and parameter style; the transaction is still the Session's.
def _reserve() -> UpdateBase:
    gpus = bindparam("gpus", type_=Integer)
    return (
        update(Offer)
        .where(Offer.id == bindparam("offer_id", type_=Integer))
        .where(Offer.status == literal_column("'open'"))
        .where(Offer.available >= gpus)
        .values(available=Offer.available - gpus)
        .returning(
            Offer.seller,
            Offer.gpu,
            Offer.site,
            Offer.hub,
            Offer.price_cny_per_gpu_hour,
            Offer.interruptible,
        )
    )


def _insert(
    model: Any, constants: dict[str, str], names: dict[str, str], *, returning: bool = True
) -> UpdateBase:
    """``INSERT`` of bound parameters (column -> parameter name) and SQL constants,
    returning the new row's id."""
    values: dict[str, Any] = {column: bindparam(name) for column, name in names.items()}
    values.update({column: literal_column(sql) for column, sql in constants.items()})
    statement = insert(model).values(values)
    return statement.returning(model.id) if returning else statement


_ORDER = {"buyer": "buyer", "request_id": "request_id", "quote_id": "quote_id", "gpus": "gpus",
          "cost_cny_per_hour": "cost", "created_at": "created_at"}  # fmt: skip
_PER_OFFER = {
    **{c: c for c in ("order_id", "offer_id", "buyer", "seller", "gpu", "site", "hub", "gpus")},
    "price_cny_per_gpu_hour": "price", "created_at": "created_at", "pricing": "pricing",
}  # fmt: skip
_STATEMENTS: dict[str, UpdateBase] = {
    "reserve": _reserve(),
    "order": _insert(Order, {"status": "'filled'"}, _ORDER),
    "lease": _insert(
        Lease,
        {"status": "'active'", "ended_at": "NULL", "kind": "'direct'", "metered_h": "0"},
        {**_PER_OFFER, "hours": "hours"},
    ),
    "fill": _insert(
        Fill,
        {"kind": "'direct'"},
        {**_PER_OFFER, "lease_id": "lease_id", "interruptible": "interruptible"},
        returning=False,
    ),
}


@cache
def _compiled(name: str, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """Statement ``name`` as the driver's SQL, and the parameter order when the driver's
    style is positional (SQLite's ``?``), else None (psycopg's ``%(name)s``)."""
    compiled = _STATEMENTS[name].compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return str(compiled), order


def _execute(cursor: Any, dialect: Dialect, name: str, params: dict[str, Any]) -> None:
    sql, order = _compiled(name, dialect)
    cursor.execute(sql, params if order is None else tuple(params[key] for key in order))


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
    dialect = conn.dialect
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sqlite = dialect.name == "sqlite"
    reserved: list[tuple[int, int, tuple[Any, ...]]] = []
    try:
        for offer_id, gpus in merge_items(items):
            _execute(cursor, dialect, "reserve", {"offer_id": offer_id, "gpus": gpus})
            row = cursor.fetchone()
            if row is None:
                _explain_shortage(session, offer_id, gpus)
            reserved.append((offer_id, gpus, tuple(row)))
        total_gpus = sum(g for _, g, _ in reserved)
        cost = float(sum(g * row[4] for _, g, row in reserved))
        now = utcnow()
        # SQLite keeps naive UTC text in SQLAlchemy's format; PostgreSQL takes the datetime.
        at: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        _execute(
            cursor, dialect, "order",
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
            _execute(cursor, dialect, "lease", {**shared, "hours": hours})
            lease_id = int(cursor.fetchone()[0])
            flag = int(bool(interruptible)) if sqlite else bool(interruptible)
            _execute(
                cursor, dialect, "fill", {**shared, "lease_id": lease_id, "interruptible": flag}
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
