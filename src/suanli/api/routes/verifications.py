"""``/verifications``: sellers upload hardware probe records; offers show "verified".

``POST /verifications`` (seller keys) takes the JSON record ``suanli probe --upload`` sends;
the exchange checks its shape, recomputes its SHA-256 and refuses an edited one (422). The
same record twice is stored once (200 the second time, 201 the first). A seller's offers of
a GPU model are *verified* from the latest record where every GPU of that model got the
verdict ``verified``: ``GET /offers/{id}/verification`` and ``GET /verifications/status``
say so, with the date. Measured figures stay in the record for the performance model
(:func:`suanli.probe.overrides.measured_gpu`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from suanli.api.deps import Caller, DatabaseDep, Paging, get_caller, require_roles
from suanli.api.routes._common import AUTH_RESPONSES, PathId
from suanli.errors import InvalidRequest, NotFound
from suanli.probe.record import check_record, parse_created_at
from suanli.store.models import Offer
from suanli.store.verification_tables import (
    Verification,
    add_verification,
    get_verification,
    latest_verified,
    list_verifications,
)

router = APIRouter(tags=["verifications"], responses=AUTH_RESPONSES)

MAX_RECORD_BYTES = 1_000_000


class VerificationOut(BaseModel):
    """A stored record's summary (the record itself with ``?full=true`` / by id)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    seller: str
    sha256: str
    hostname: str
    mode: str
    gpu_count: int
    summary: dict[str, Any]
    verified_gpus: list[str]
    created_at: datetime
    received_at: datetime


class VerificationFull(VerificationOut):
    record: dict[str, Any]


class VerificationStatus(BaseModel):
    """Whether ``seller``'s ``gpu`` GPUs are verified, since when and by which record."""

    seller: str
    gpu: str
    verified: bool
    verified_at: datetime | None
    verification_id: int | None
    sha256: str | None


def _out(row: Verification, *, full: bool = False) -> dict[str, Any]:
    data = {
        "id": row.id,
        "seller": row.seller,
        "sha256": row.sha256,
        "hostname": row.hostname,
        "mode": row.mode,
        "gpu_count": row.gpu_count,
        "summary": row.summary,
        "verified_gpus": sorted(g for g, s in row.summary.items() if s.get("verified")),
        "created_at": row.created_at,
        "received_at": row.received_at,
    }
    model = VerificationFull if full else VerificationOut
    if full:
        data["record"] = row.record
    return model.model_validate(data).model_dump(mode="json")


def _canonical_gpu(name: str) -> str:
    from suanli.catalog import gpu

    try:
        return gpu(name).name
    except NotFound:
        return name


def _status(session: Any, seller: str, gpu: str) -> dict[str, Any]:
    name = _canonical_gpu(gpu)
    row = latest_verified(session, seller, name)
    return VerificationStatus(
        seller=seller,
        gpu=name,
        verified=row is not None,
        verified_at=row.created_at if row else None,
        verification_id=row.id if row else None,
        sha256=row.sha256 if row else None,
    ).model_dump(mode="json")


@router.post("/verifications", status_code=201, response_model=VerificationOut)
def upload_verification(
    db: DatabaseDep,
    record: Annotated[dict[str, Any], Body(description="the record from `suanli probe --json`")],
    caller: Caller = Depends(require_roles("seller")),
) -> JSONResponse:
    """Store a seller's probe record after checking its hash (201; 200 if already stored)."""
    if len(json.dumps(record)) > MAX_RECORD_BYTES:
        raise InvalidRequest("the record is larger than 1 MB", field="record")
    check_record(record)
    if not record["gpus"]:
        raise InvalidRequest("the record lists no GPU", field="gpus")
    created_at = parse_created_at(record)
    with db.write() as session:
        row, created = add_verification(
            session,
            seller=caller.tenant,
            key_id=caller.key_id,
            sha256=record["sha256"],
            created_at=created_at,
            record=record,
        )
        if not created and row.seller != caller.tenant:
            raise InvalidRequest(
                "this record was already uploaded by another seller", field="sha256"
            )
        body = _out(row)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/verifications", response_model=list[VerificationOut])
def read_verifications(
    db: DatabaseDep,
    paging: Paging,
    caller: Caller = Depends(get_caller),
    seller: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Records, newest first (any key may read them: verification is public)."""
    with db.read() as session:
        rows = list_verifications(session, seller=seller, limit=paging.limit, offset=paging.offset)
        return [_out(r) for r in rows]


@router.get("/verifications/status", response_model=VerificationStatus)
def verification_status(
    db: DatabaseDep,
    seller: Annotated[str, Query(max_length=200)],
    gpu: Annotated[str, Query(max_length=100)],
    caller: Caller = Depends(get_caller),
) -> dict[str, Any]:
    """Whether ``seller``'s ``gpu`` GPUs are verified, and since when."""
    with db.read() as session:
        return _status(session, seller, gpu)


@router.get("/verifications/{verification_id}", response_model=VerificationFull)
def read_verification(
    verification_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """One record, in full (its measurements, verdicts and hash)."""
    with db.read() as session:
        return _out(get_verification(session, verification_id), full=True)


@router.get("/offers/{offer_id}/verification", response_model=VerificationStatus)
def offer_verification(
    offer_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Whether this offer's GPUs are verified by a probe record of its seller."""
    with db.read() as session:
        offer = session.get(Offer, offer_id)
        if offer is None:
            raise NotFound(f"no offer {offer_id}")
        return _status(session, offer.seller, offer.gpu)
