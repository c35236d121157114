"""``/verifications``: sellers upload hardware probe records; offers show "verified".

``POST /verifications`` (seller keys) takes the JSON record ``suanli probe --upload`` sends;
the exchange checks its shape, recomputes its SHA-256 and refuses an edited one (422), and
refuses a record that does not answer a fresh challenge it issued to that seller
(``POST /verifications/challenges``; :mod:`suanli.probe.challenge`): 422 without or with a
wrong answer, 409 for an expired, used or foreign nonce. The
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
    issue_challenge,
    latest_verified,
    list_verifications,
    redeem_challenge,
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


class MeasuredOut(BaseModel):
    """What the exchange's gateways measured on an offer's leases (served traffic)."""

    calls: int
    attainment: float
    mean_ttft_ms: float | None
    mean_tpot_ms: float | None
    output_tokens: int
    since: datetime
    until: datetime


class OfferEvidence(VerificationStatus):
    """An offer's badge: which evidence there is, with its figures."""

    evidence: list[str]
    measured: MeasuredOut | None


PROBE_EVIDENCE = "probe record uploaded by the seller"
MEASURED_EVIDENCE = "performance measured by the exchange"


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
        if created:  # a retry of a stored record is answered as before; a new one must
            from suanli.probe.challenge import workload_answer

            redeem_challenge(  # answer a fresh challenge (raises: nothing is stored)
                session,
                seller=caller.tenant,
                record=record,
                created_at=created_at,
                expected_answer=workload_answer,
            )
        body = _out(row)
    return JSONResponse(body, status_code=201 if created else 200)


class ChallengeOut(BaseModel):
    nonce: str
    seed: int
    expires_at: datetime


@router.post("/verifications/challenges", status_code=201, response_model=ChallengeOut)
def new_challenge(
    db: DatabaseDep, caller: Caller = Depends(require_roles("seller"))
) -> dict[str, Any]:
    """A fresh nonce for the seller's next probe record (valid 15 minutes, for one record):
    it seeds the workload the probe runs, and the record must carry the answer."""
    from suanli.probe.challenge import TTL_S, new_nonce, seed_of

    with db.write() as session:
        row = issue_challenge(session, caller.tenant, nonce=new_nonce(), ttl_s=TTL_S)
        return ChallengeOut(
            nonce=row.nonce, seed=seed_of(row.nonce), expires_at=row.expires_at
        ).model_dump(mode="json")


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


@router.get("/offers/{offer_id}/verification", response_model=OfferEvidence)
def offer_verification(
    offer_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """The offer's badge: whether its GPUs are verified by a probe record the seller
    uploaded, and what the exchange measured serving traffic on its leases (calls, share
    within their SLO, mean TTFT and TPOT, tokens; emulated replicas excluded)."""
    from suanli.store.gateway import offer_measured

    with db.read() as session:
        offer = session.get(Offer, offer_id)
        if offer is None:
            raise NotFound(f"no offer {offer_id}")
        body = _status(session, offer.seller, offer.gpu)
        measured = offer_measured(session, offer_id)
    evidence = [PROBE_EVIDENCE] if body["verified"] else []
    if measured is not None:
        evidence.append(MEASURED_EVIDENCE)
    return OfferEvidence.model_validate(
        {**body, "evidence": evidence, "measured": measured}
    ).model_dump(mode="json")
