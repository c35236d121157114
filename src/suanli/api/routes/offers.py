"""``/offers``: sellers list idle GPUs; anyone with a key searches them.

Offers are the market's public book: every key may read and search them. Writes are
tenant-scoped: a seller creates offers for itself and changes only its own (403 for
another seller's); the operator may change any. Updates carry the version that was read
(a stale one gets 409).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from suanli.api.deps import Caller, DatabaseDep, Paging, get_caller, require_roles
from suanli.api.filters import condition, parse_filter
from suanli.api.idempotency import post
from suanli.api.routes._common import AUTH_RESPONSES, PathId, dump
from suanli.api.schemas import OfferIn, OfferOut, OfferPatch, OfferWithdraw, Page
from suanli.errors import NotFound
from suanli.store import offers as repo
from suanli.store.offers import Condition


@cache
def _catalog_name(name: str) -> str:
    """The catalog's name of a GPU model (probe records are summarised by it)."""
    from suanli.catalog import gpu

    try:
        return gpu(name).name
    except NotFound:
        return name


def _verified(session: Any, offers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``offers`` (JSON-ready) with ``verified`` and ``verified_at`` from the sellers'
    probe records: one query for the whole list."""
    from suanli.store.orders import iso
    from suanli.store.verification_tables import verified_since

    pairs = [(o["seller"], _catalog_name(o["gpu"])) for o in offers]
    since = verified_since(session, pairs)
    for offer, pair in zip(offers, pairs, strict=True):
        at = since.get(pair)
        offer["verified"] = at is not None
        offer["verified_at"] = iso(at)
    return offers


def _one(session: Any, row: Any) -> dict[str, Any]:
    return _verified(session, [dump(OfferOut, row)])[0]


router = APIRouter(prefix="/offers", tags=["offers"], responses=AUTH_RESPONSES)

Text = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=Page[OfferOut])
def list_offers(
    db: DatabaseDep,
    paging: Paging,
    caller: Caller = Depends(get_caller),
    q: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="compact filter, e.g. 'gpu=H100 count>=8 price<=15 hub=west'",
        ),
    ] = None,
    gpu: Text = None,
    site: Text = None,
    hub: Text = None,
    seller: Text = None,
    min_count: Annotated[int | None, Query(ge=0, le=1_000_000, description="free GPUs")] = None,
    max_price: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    interruptible: bool | None = None,
    mine: Annotated[bool, Query(description="only the caller's own offers")] = False,
    sort: Annotated[
        str, Query(max_length=20, description="id, price, available, ... (-x: desc)")
    ] = "id",
) -> dict[str, object]:
    """Search offers by query parameters and/or the compact filter ``q`` (open ones only
    unless a ``status`` term is given)."""
    conditions: list[Condition] = parse_filter(q) if q else []
    for field, value in (("gpu", gpu), ("site", site), ("hub", hub), ("seller", seller)):
        if value:
            conditions.append(condition(field, "=", value))
    if min_count is not None:
        conditions.append(Condition("count", ">=", float(min_count)))
    if max_price is not None:
        conditions.append(Condition("price", "<=", max_price))
    if interruptible is not None:
        conditions.append(Condition("interruptible", "=", interruptible))
    if mine:
        conditions.append(Condition("seller", "=", caller.tenant))
    with db.read() as session:
        rows, total = repo.search_offers(
            session, conditions, limit=paging.limit, offset=paging.offset, sort=sort
        )
        items = _verified(session, [dump(OfferOut, row) for row in rows])
    return paging.wrap(list(items), total)


@router.post("", status_code=201, response_model=OfferOut)
async def create_offer(
    body: OfferIn,
    request: Request,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("seller")),
) -> JSONResponse:
    """List idle GPUs at a site (seller keys only; the offer belongs to the key's tenant)."""
    fields = body.model_dump(mode="json")

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        return 201, _verified(session, [repo.insert_offer(session, caller.tenant, fields)])[0]

    # lean: insert_offer is SQLAlchemy Core and adds no ORM objects.
    return await post(request, db, caller, fields, action, lean=True)


@router.get("/{offer_id}", response_model=OfferOut)
def get_offer(
    offer_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """One offer by id."""
    with db.read() as session:
        return _one(session, repo.get_offer(session, offer_id))


@router.patch("/{offer_id}", response_model=OfferOut, responses={409: {"description": "stale"}})
def update_offer(
    offer_id: PathId,
    body: OfferPatch,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("seller", "operator")),
) -> dict[str, Any]:
    """Change price, count or terms; ``version`` must be the one you read (else 409)."""
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True, exclude={"version"}).items()
        if value is not None or name == "end_h"  # null means "leave as is", except end_h
    }
    with db.write() as session:
        offer = repo.update_offer(session, caller, offer_id, body.version, changes)
        return _one(session, offer)


@router.post(
    "/{offer_id}/withdraw",
    response_model=OfferOut,
    responses={409: {"description": "not enough free GPUs, or stale version"}},
)
async def withdraw_offer(
    offer_id: PathId,
    body: OfferWithdraw,
    request: Request,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("seller", "operator")),
) -> JSONResponse:
    """Take free capacity off the market (all of it when ``gpus`` is absent)."""
    fields = body.model_dump(mode="json")

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        offer = repo.withdraw_offer(session, caller, offer_id, body.gpus, body.version)
        return 200, _one(session, offer)

    return await post(request, db, caller, fields, action)
