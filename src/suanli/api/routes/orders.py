"""``/orders``, ``/leases``, ``/fills``: committing placements and what they produced.

``POST /orders`` reserves GPUs on the named offers (or on a quote's placement) all or
nothing, creating one lease and one fill per offer; a short offer gives 409 and nothing
changes. Buyers see their own orders and leases, sellers the leases and fills on their
offers, the operator everything; rows of other tenants are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.api.deps import Caller, DatabaseDep, Paging, get_caller, require_roles
from suanli.api.idempotency import post
from suanli.api.routes._common import AUTH_RESPONSES, PathId, dump
from suanli.api.schemas import FillOut, LeaseOut, OrderIn, OrderOut, Page
from suanli.errors import Conflict
from suanli.store import orders as repo
from suanli.store import requests as reqrepo
from suanli.store.models import Fill, Lease, Order

router = APIRouter(tags=["orders"], responses=AUTH_RESPONSES)


def _order_body(order: Order, leases: list[Lease]) -> dict[str, Any]:
    body = dump(OrderOut, order)
    body["leases"] = [dump(LeaseOut, lease) for lease in leases]
    return body


def order_action(body: OrderIn, caller: Caller) -> Callable[[Session], tuple[int, dict[str, Any]]]:
    """The write an order performs, run by :func:`suanli.api.idempotency.post` in one
    write transaction (shared by the route and the fast path)."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        request_id = body.request_id
        hours = body.hours
        if body.quote_id is not None:
            quote = reqrepo.get_quote(session, caller, body.quote_id)
            if not quote.feasible:
                raise Conflict(
                    f"quote {quote.id} found no feasible placement",
                    hint="change the request or wait for more offers, then quote again",
                )
            items = [(int(a["offer_id"]), int(a["gpus"])) for a in quote.result["assignments"]]
            request_id = quote.request_id
            if hours is None:
                spec = reqrepo.get_request(session, caller, quote.request_id).spec
                hours = spec.get("hours")
        else:
            assert body.items is not None
            items = [(item.offer_id, item.gpus) for item in body.items]
        if request_id is not None:
            request = reqrepo.get_request(session, caller, request_id)
            if request.status in ("cancelled", "expired"):
                raise Conflict(
                    f"request {request_id} is {request.status}",
                    hint="submit the request again",
                )
        order = repo.place_order(
            session,
            caller,
            items,
            request_id=request_id,
            quote_id=body.quote_id,
            hours=hours,
        )
        return 201, order

    return action


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    responses={409: {"description": "an offer no longer has the GPUs"}},
)
async def create_order(
    body: OrderIn,
    request: Request,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("buyer")),
) -> JSONResponse:
    """Commit a placement: reserve GPUs on offers (``items``) or on a quote's placement."""
    # suanli.api.fastpath answers well-formed buyer requests with the same order_action;
    # this route is the reference behaviour and answers everything else.
    return await post(
        request, db, caller, body.model_dump(mode="json"), order_action(body, caller), lean=True
    )


@router.get("/orders", response_model=Page[OrderOut])
def list_orders(
    db: DatabaseDep, paging: Paging, caller: Caller = Depends(require_roles("buyer", "operator"))
) -> dict[str, object]:
    """The caller's orders, newest first (leases listed under /leases)."""
    with db.read() as session:
        rows, total = repo.page(
            session, reqrepo.scoped(caller, Order), limit=paging.limit, offset=paging.offset
        )
        return paging.wrap([dump(OrderOut, r) for r in rows], total)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(
    order_id: PathId,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("buyer", "operator")),
) -> dict[str, Any]:
    """One order with its leases."""
    with db.read() as session:
        order = reqrepo.get_order(session, caller, order_id)
        leases = list(session.scalars(select(Lease).where(Lease.order_id == order.id)))
        return _order_body(order, leases)


@router.get("/leases", response_model=Page[LeaseOut])
def list_leases(
    db: DatabaseDep, paging: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, object]:
    """Leases the caller holds (buyer), grants (seller) or all of them (operator)."""
    with db.read() as session:
        rows, total = repo.page(
            session, reqrepo.scoped(caller, Lease), limit=paging.limit, offset=paging.offset
        )
        return paging.wrap([dump(LeaseOut, r) for r in rows], total)


@router.get("/leases/{lease_id}", response_model=LeaseOut)
def get_lease(
    lease_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """One lease the caller may see."""
    with db.read() as session:
        return dump(LeaseOut, reqrepo.get_lease(session, caller, lease_id))


@router.post("/leases/{lease_id}/release", response_model=LeaseOut)
async def release_lease(
    lease_id: PathId,
    request: Request,
    db: DatabaseDep,
    caller: Caller = Depends(require_roles("buyer", "operator")),
) -> JSONResponse:
    """End an active lease early; its GPUs go back on the offer."""

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        return 200, dump(LeaseOut, repo.release_lease(session, caller, lease_id))

    return await post(request, db, caller, {"lease_id": lease_id}, action)


@router.get("/fills", response_model=Page[FillOut])
def list_fills(
    db: DatabaseDep, paging: Paging, caller: Caller = Depends(get_caller)
) -> dict[str, object]:
    """Trades the caller took part in (all of them for the operator), newest first."""
    with db.read() as session:
        rows, total = repo.page(
            session, reqrepo.scoped(caller, Fill), limit=paging.limit, offset=paging.offset
        )
        return paging.wrap([dump(FillOut, r) for r in rows], total)
