"""Buyers' requests and the quotes made for them; scoping of every buyer-owned list.

A buyer sees only its own rows, a seller sees leases and fills on its own offers, the
operator sees everything. A row the caller may not see is reported as not found, so ids
of other tenants' objects leak nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from suanli.errors import NotFound
from suanli.store.keys import Caller
from suanli.store.models import Fill, Lease, Order, Quote, RequestRow
from suanli.store.orders import visible

T = TypeVar("T")


def create_request(
    session: Session, caller: Caller, *, kind: str, name: str, spec: dict[str, Any]
) -> RequestRow:
    """Store a buyer's request (already validated at the API edge)."""
    row = RequestRow(buyer=caller.tenant, kind=kind, name=name, spec=spec, status="open")
    session.add(row)
    session.flush()
    return row


def get_request(session: Session, caller: Caller, request_id: int) -> RequestRow:
    """A request the caller may see, or :class:`NotFound`."""
    row = session.get(RequestRow, request_id)
    if row is None or not visible(caller, row.buyer, None):
        raise NotFound(f"no request {request_id}", context={"request_id": request_id})
    return row


def create_quote(
    session: Session,
    caller: Caller,
    request: RequestRow,
    *,
    feasible: bool,
    cost_cny_per_hour: float,
    gpus: int,
    result: dict[str, Any],
) -> Quote:
    """Store a quote (a preview: nothing is reserved)."""
    row = Quote(
        buyer=request.buyer,
        request_id=request.id,
        feasible=feasible,
        cost_cny_per_hour=cost_cny_per_hour,
        gpus=gpus,
        result=result,
    )
    session.add(row)
    session.flush()
    if request.status == "open":
        request.status = "quoted"
    return row


def get_quote(session: Session, caller: Caller, quote_id: int) -> Quote:
    """A quote the caller may see, or :class:`NotFound`."""
    row = session.get(Quote, quote_id)
    if row is None or not visible(caller, row.buyer, None):
        raise NotFound(f"no quote {quote_id}", context={"quote_id": quote_id})
    return row


def get_order(session: Session, caller: Caller, order_id: int) -> Order:
    """An order the caller may see, or :class:`NotFound`."""
    row = session.get(Order, order_id)
    if row is None or not visible(caller, row.buyer, None):
        raise NotFound(f"no order {order_id}", context={"order_id": order_id})
    return row


def get_lease(session: Session, caller: Caller, lease_id: int) -> Lease:
    """A lease the caller (its buyer, the offer's seller, the operator) may see."""
    row = session.get(Lease, lease_id)
    if row is None or not visible(caller, row.buyer, row.seller):
        raise NotFound(f"no lease {lease_id}", context={"lease_id": lease_id})
    return row


def scoped(caller: Caller, model: Any) -> Select[Any]:
    """``SELECT model`` limited to the rows ``caller`` may see, newest first."""
    query = select(model)
    if caller.role == "buyer":
        query = query.where(model.buyer == caller.tenant)
    elif caller.role == "seller":
        if model in (Lease, Fill):
            query = query.where(model.seller == caller.tenant)
        else:
            query = query.where(model.id.is_(None))  # sellers own no buyer-side rows
    return query.order_by(model.id.desc())


def lifecycle_status(stored: str, lease_statuses: list[str]) -> str:
    """A request's status as its buyer sees it: ``active`` while any lease its orders opened
    runs, ``ordered`` while one waits to start, ``ended`` once every one has ended, else the
    stored status (``open``, ``quoted``)."""
    if "active" in lease_statuses:
        return "active"
    if "pending" in lease_statuses:
        return "ordered"
    if lease_statuses:
        return "ended"
    return stored


def lease_statuses(session: Session, request_ids: list[int]) -> dict[int, list[str]]:
    """Per request, the statuses of the leases its orders opened (one query)."""
    out: dict[int, list[str]] = {}
    if not request_ids:
        return out
    rows = session.execute(
        select(Order.request_id, Lease.status)
        .join(Lease, Lease.order_id == Order.id)
        .where(Order.request_id.in_(request_ids))
    )
    for request_id, status in rows:
        if request_id is not None:
            out.setdefault(int(request_id), []).append(str(status))
    return out


def with_status(session: Session, rows: list[RequestRow]) -> dict[int, str]:
    """Request id -> its :func:`lifecycle_status`, for a page of requests."""
    leases = lease_statuses(session, [r.id for r in rows])
    return {r.id: lifecycle_status(r.status, leases.get(r.id, [])) for r in rows}
