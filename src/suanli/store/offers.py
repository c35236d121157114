"""Offers: listing, search, versioned updates and withdrawal of free capacity.

Every change that can race is one conditional ``UPDATE``: the database checks the version
(stale -> :class:`Conflict`) and the free capacity in the same statement that writes, so no
read-modify-write window exists between two writers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from suanli.errors import Conflict, Forbidden, InvalidRequest, NotFound
from suanli.store.keys import Caller
from suanli.store.models import Offer, utcnow

SORTS = {
    "id": Offer.id,
    "price": Offer.price_cny_per_gpu_hour,
    "available": Offer.available,
    "count": Offer.count,
    "gpu": Offer.gpu,
    "hub": Offer.hub,
    "created": Offer.created_at,
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One search term: ``field op value`` (e.g. ``price <= 15``), already validated."""

    field: str
    op: str
    value: str | float | bool


def resolve_gpu(name: str) -> str:
    """The catalog's canonical GPU name; an unknown one is bad input (422) with suggestions."""
    from suanli.catalog import gpu

    try:
        return gpu(name).name
    except NotFound as exc:
        raise InvalidRequest(exc.message, field="gpu", hint=exc.hint) from None


def resolve_site(name: str) -> tuple[str, str, str]:
    """(site id, hub-or-region, role) of a catalog site; unknown -> 422 with suggestions."""
    from suanli.catalog import site

    try:
        found = site(name)
    except NotFound as exc:
        raise InvalidRequest(exc.message, field="site", hint=exc.hint) from None
    return found.id, found.region, found.role


_OFFERS = cast(Table, Offer.__table__)
_INSERT = insert(_OFFERS).returning(_OFFERS.c.id)


def insert_offer(session: Session, seller: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """List a new offer for ``seller`` (all of its capacity free); returns it JSON-ready.

    SQLAlchemy Core, no ORM unit of work: this is one of the exchange's hot writes.
    """
    from suanli.store.orders import iso

    site_id, hub, role = resolve_site(str(fields["site"]))
    count = int(fields["count"])
    now = utcnow()
    end_h = fields.get("end_h")
    row: dict[str, Any] = {
        "seller": seller,
        "site": site_id,
        "hub": hub,
        "region_role": role,
        "gpu": resolve_gpu(str(fields["gpu"])),
        "count": count,
        "available": count,
        "gpus_per_node": int(fields.get("gpus_per_node") or 8),
        "price_cny_per_gpu_hour": float(fields["price_cny_per_gpu_hour"]),
        "fabric": str(fields.get("fabric") or "nvlink-ib"),
        "start_h": float(fields.get("start_h") or 0.0),
        "end_h": None if end_h is None else float(end_h),
        "interruptible": bool(fields.get("interruptible", False)),
        "status": "open",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    offer_id = session.connection().execute(_INSERT, row).scalar_one()
    stamp = iso(now)
    return {"id": offer_id, **row, "created_at": stamp, "updated_at": stamp}


def create_offer(session: Session, seller: str, fields: Mapping[str, Any]) -> Offer:
    """:func:`insert_offer`, returning the ORM row."""
    return get_offer(session, int(insert_offer(session, seller, fields)["id"]))


def get_offer(session: Session, offer_id: int) -> Offer:
    """An offer by id, or :class:`NotFound`."""
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer {offer_id}", context={"offer_id": offer_id})
    return offer


def _condition_sql(cond: Condition) -> ColumnElement[bool]:
    if cond.field == "hub":
        value = str(cond.value).lower()
        match = or_(
            func.lower(Offer.hub) == value,
            func.lower(Offer.region_role) == value,
            # autoescape: a '%' or '_' in the filter is a character, not a wildcard
            func.lower(Offer.hub).contains(value, autoescape=True),
        )
        return ~match if cond.op == "!=" else match
    column = {
        "gpu": Offer.gpu,
        "site": Offer.site,
        "seller": Offer.seller,
        "fabric": Offer.fabric,
        "status": Offer.status,
        "interruptible": Offer.interruptible,
        "count": Offer.available,
        "total": Offer.count,
        "price": Offer.price_cny_per_gpu_hour,
        "node": Offer.gpus_per_node,
    }[cond.field]
    ops = {
        "=": column.__eq__,
        "!=": column.__ne__,
        ">=": column.__ge__,
        "<=": column.__le__,
        ">": column.__gt__,
        "<": column.__lt__,
    }
    result: ColumnElement[bool] = ops[cond.op](cond.value)
    return result


def search_offers(
    session: Session,
    conditions: Sequence[Condition],
    *,
    limit: int,
    offset: int,
    sort: str = "id",
) -> tuple[list[Offer], int]:
    """Offers matching every condition (open ones unless ``status`` is given), one page."""
    where = [_condition_sql(c) for c in conditions]
    if not any(c.field == "status" for c in conditions):
        where.append(Offer.status == "open")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        raise InvalidRequest(
            f"cannot sort by {key!r}",
            field="sort",
            hint="use one of: " + ", ".join(SORTS) + " (prefix - for descending)",
        )
    column = SORTS[key]
    order: list[Any] = [column.desc() if descending else column.asc(), Offer.id.asc()]
    query: Select[Any] = select(Offer).where(and_(*where)) if where else select(Offer)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    return rows, int(total)


def _check_owner(caller: Caller, offer: Offer) -> None:
    if not caller.is_operator and offer.seller != caller.tenant:
        raise Forbidden(
            f"offer {offer.id} belongs to another seller",
            hint="a seller can change only its own offers",
        )


def update_offer(
    session: Session, caller: Caller, offer_id: int, version: int, changes: Mapping[str, Any]
) -> Offer:
    """Change an offer's terms if ``version`` is current (else 409); bumps the version.

    A new ``count`` moves ``available`` by the same amount and may not drop below the GPUs
    already leased.
    """
    offer = get_offer(session, offer_id)
    _check_owner(caller, offer)
    if offer.status != "open":
        raise Conflict(f"offer {offer_id} is {offer.status}", hint="list a new offer instead")
    end_h = changes.get("end_h")
    if end_h is not None and end_h <= offer.start_h:
        raise InvalidRequest(
            f"end_h must be after the offer's start_h ({offer.start_h})", field="end_h"
        )
    values: dict[str, Any] = {}
    for name in ("price_cny_per_gpu_hour", "gpus_per_node", "fabric", "end_h", "interruptible"):
        if name in changes:
            values[name] = changes[name]
    conditions = [Offer.id == offer_id, Offer.version == version, Offer.status == "open"]
    if "count" in changes:
        delta = int(changes["count"]) - offer.count
        values["count"] = Offer.count + delta
        values["available"] = Offer.available + delta
        conditions.append(Offer.available + delta >= 0)
    values["version"] = Offer.version + 1
    values["updated_at"] = utcnow()
    result = session.execute(
        update(Offer)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(offer)
        if offer.version != version:
            raise Conflict(
                f"offer {offer_id} is at version {offer.version}, not {version}",
                hint="read the offer again and retry with its current version",
                context={"current_version": offer.version},
            )
        leased = offer.count - offer.available
        raise Conflict(
            f"offer {offer_id} has {leased} GPUs leased; count cannot go below that",
            hint=f"set count to at least {leased}",
            context={"leased": leased},
        )
    session.refresh(offer)
    return offer


def withdraw_offer(
    session: Session, caller: Caller, offer_id: int, gpus: int | None, version: int | None
) -> Offer:
    """Take ``gpus`` free GPUs (all free ones when None) off the market.

    When nothing is left listed or leased the offer becomes ``withdrawn``.
    """
    offer = get_offer(session, offer_id)
    _check_owner(caller, offer)
    if offer.status != "open":
        raise Conflict(f"offer {offer_id} is already {offer.status}")
    amount = offer.available if gpus is None else gpus
    if amount < 1:  # nothing free: a no-op must not bump the version or look like success
        raise Conflict(
            f"offer {offer_id} has no free GPUs to withdraw",
            hint="leased GPUs come back when their lease ends",
            context={"available": offer.available},
        )
    conditions = [Offer.id == offer_id, Offer.available >= amount, Offer.status == "open"]
    if version is not None:
        conditions.append(Offer.version == version)
    result = session.execute(
        update(Offer)
        .where(*conditions)
        .values(
            count=Offer.count - amount,
            available=Offer.available - amount,
            version=Offer.version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(offer)
        if version is not None and offer.version != version:
            raise Conflict(
                f"offer {offer_id} is at version {offer.version}, not {version}",
                hint="read the offer again and retry with its current version",
                context={"current_version": offer.version},
            )
        raise Conflict(
            f"offer {offer_id} has only {offer.available} free GPUs; cannot withdraw {amount}",
            hint="leased GPUs come back when their lease ends",
            context={"available": offer.available},
        )
    session.refresh(offer)
    if offer.count == 0:
        offer.status = "withdrawn"
        session.flush()
    return offer
