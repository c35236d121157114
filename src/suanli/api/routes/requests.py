"""``/requests`` and ``/quotes``: buyers ask in outcome terms and get priced previews.

A request (serve / batch / train) is stored as submitted. A quote sizes it with the
performance model and places it on the open offers with the placement engine, and commits
nothing: the GPUs it names can still be taken by someone else before an order commits it.
Buyers see only their own requests and quotes (others' are 404); the operator sees all;
seller keys get 403.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from suanli.api.deps import Caller, DatabaseDep, Paging, require_roles
from suanli.api.idempotency import post, run_post
from suanli.api.routes._common import AUTH_RESPONSES, PathId, dump
from suanli.api.schemas import Page, QuoteIn, QuoteOut, RequestIn, RequestOut
from suanli.store import requests as repo
from suanli.store.models import Quote, RequestRow
from suanli.store.orders import page

router = APIRouter(tags=["requests"], responses=AUTH_RESPONSES)

BUYER = Depends(require_roles("buyer"))
READER = Depends(require_roles("buyer", "operator"))


def _validate_names(spec: dict[str, Any]) -> None:
    """Catalog names (cities, GPU types) are checked at submission: 422 with suggestions."""
    from suanli.catalog import city
    from suanli.errors import InvalidRequest, NotFound
    from suanli.store.offers import resolve_gpu

    if spec.get("model"):
        from suanli.catalog.models import model

        try:
            spec["model"] = model(spec["model"]).name
        except NotFound as exc:
            raise InvalidRequest(exc.message, field="model", hint=exc.hint) from None
    if spec.get("gpu_types"):
        spec["gpu_types"] = [resolve_gpu(name) for name in spec["gpu_types"]]
    if spec.get("regions"):
        regions: dict[str, float] = {}
        for name, weight in spec["regions"].items():
            try:
                found = city(name)
            except NotFound as exc:
                raise InvalidRequest(exc.message, field="regions", hint=exc.hint) from None
            if weight <= 0:
                raise InvalidRequest(f"region {name} needs a positive weight", field="regions")
            regions[found.id] = regions.get(found.id, 0.0) + float(weight)
        spec["regions"] = regions


@router.post("/requests", status_code=201, response_model=RequestOut)
async def submit_request(
    request: Request,
    db: DatabaseDep,
    body: RequestIn = Body(discriminator="kind"),
    caller: Caller = BUYER,
) -> JSONResponse:
    """Submit a serve, batch or train request (buyer keys)."""
    spec = body.model_dump(mode="json")
    fingerprint_body = dict(spec)
    _validate_names(spec)

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        row = repo.create_request(
            session, caller, kind=spec["kind"], name=spec.get("name", ""), spec=spec
        )
        return 201, dump(RequestOut, row)

    return await post(request, db, caller, fingerprint_body, action)


@router.get("/requests", response_model=Page[RequestOut])
def list_requests(db: DatabaseDep, paging: Paging, caller: Caller = READER) -> dict[str, object]:
    """The caller's requests, newest first (all of them for the operator)."""
    with db.read() as session:
        rows, total = page(
            session, repo.scoped(caller, RequestRow), limit=paging.limit, offset=paging.offset
        )
        statuses = repo.with_status(session, list(rows))
        return paging.wrap([{**dump(RequestOut, r), "status": statuses[r.id]} for r in rows], total)


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: PathId, db: DatabaseDep, caller: Caller = READER) -> dict[str, Any]:
    """One of the caller's requests."""
    with db.read() as session:
        row = repo.get_request(session, caller, request_id)
        return {**dump(RequestOut, row), "status": repo.with_status(session, [row])[row.id]}


@router.post("/quotes", status_code=201, response_model=QuoteOut)
def create_quote(
    body: QuoteIn, request: Request, db: DatabaseDep, caller: Caller = BUYER
) -> JSONResponse:
    """Size and place one of the caller's requests against the open offers; reserves nothing."""
    from suanli.api.quoting import quote_request

    fields = body.model_dump(mode="json")
    with db.read() as session:
        row = repo.get_request(session, caller, body.request_id)
        kind, spec = row.kind, dict(row.spec)
        preview = quote_request(session, body.request_id, kind, spec)

    def action(session: Any) -> tuple[int, dict[str, Any]]:
        req = repo.get_request(session, caller, body.request_id)
        quote = repo.create_quote(
            session,
            caller,
            req,
            feasible=preview.feasible,
            cost_cny_per_hour=preview.cost_cny_per_hour,
            gpus=preview.gpus,
            result=preview.result,
        )
        return 201, dump(QuoteOut, quote)

    return run_post(request, db, caller, fields, action)


@router.get("/quotes", response_model=Page[QuoteOut])
def list_quotes(db: DatabaseDep, paging: Paging, caller: Caller = READER) -> dict[str, object]:
    """The caller's quotes, newest first."""
    with db.read() as session:
        rows, total = page(
            session, repo.scoped(caller, Quote), limit=paging.limit, offset=paging.offset
        )
        return paging.wrap([dump(QuoteOut, r) for r in rows], total)


@router.get("/quotes/{quote_id}", response_model=QuoteOut)
def get_quote(quote_id: PathId, db: DatabaseDep, caller: Caller = READER) -> dict[str, Any]:
    """One of the caller's quotes."""
    with db.read() as session:
        return dump(QuoteOut, repo.get_quote(session, caller, quote_id))
