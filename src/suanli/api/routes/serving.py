"""Serving a lease: replica endpoints and measured outcomes.

``POST /leases/{id}/replicas`` registers the OpenAI-compatible endpoint of a serving replica
(the lease's seller, its buyer if it operates the lease itself, or the operator);
``GET /leases/{id}/replicas`` lists them with their health as the gateways last saw it;
``DELETE /replicas/{id}`` removes one. ``GET /leases/{id}/outcomes`` is what the gateways
measured, per UTC hour: calls, tokens, TTFT/TPOT, SLO attainment against the quoted
request's targets and the credit the published rule gives (settled hours as recorded).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AfterValidator, Field

from suanli.api.deps import Caller, DatabaseDep, get_caller
from suanli.api.routes._common import AUTH_RESPONSES, PathId, dump
from suanli.api.schemas import Input, Name, Output
from suanli.store import gateway as repo
from suanli.store import requests as reqrepo

router = APIRouter(tags=["serving"], responses=AUTH_RESPONSES)

Url = Annotated[str, Field(min_length=8, max_length=500), AfterValidator(repo.check_url)]


class ReplicaIn(Input):
    model: Name = Field(description="the model name the replica serves, e.g. Qwen2.5-7B")
    url: Url = Field(description="base URL of its OpenAI API, e.g. http://10.0.0.5:8000")
    emulated: bool = Field(False, description="an engine emulator (suanli emulate-engine)")


class ReplicaOut(Output):
    id: int
    lease_id: int
    model: str
    url: str
    registered_by: str
    emulated: bool
    health: str
    checked_at: datetime | None
    created_at: datetime


class HourOut(Output):
    hour: datetime
    calls: int
    failed: int
    ok: int
    ttft_ok: int
    tpot_ok: int
    streamed: int
    input_tokens: int
    output_tokens: int
    mean_ttft_ms: float | None
    mean_tpot_ms: float | None
    max_ttft_ms: float | None
    attainment: float | None = Field(description="share of calls that met both targets")
    target: float | None = Field(description="the quoted percentile as a share")
    rent_fen: int
    credit_fen: int
    credit_bps: int
    settled: bool
    emulated: bool
    regions: dict[str, int]


class OutcomesOut(Output):
    lease_id: int
    targets: dict[str, float] | None
    calls: int
    ok: int
    attainment: float | None
    output_tokens: int
    input_tokens: int
    credit_fen: int
    hours: list[HourOut]


@router.post("/leases/{lease_id}/replicas", response_model=ReplicaOut, status_code=201)
def register_replica(
    lease_id: PathId, body: ReplicaIn, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Register a serving replica's endpoint for a lease."""
    with db.write() as session:
        row = repo.register_replica(
            session,
            caller,
            lease_id=lease_id,
            model=body.model,
            url=body.url,
            emulated=body.emulated,
        )
        return dump(ReplicaOut, row)


@router.get("/leases/{lease_id}/replicas", response_model=list[ReplicaOut])
def list_replicas(
    lease_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> list[dict[str, Any]]:
    """The replicas registered for a lease."""
    with db.read() as session:
        reqrepo.get_lease(session, caller, lease_id)
        return [dump(ReplicaOut, r) for r in repo.list_replicas(session, caller, lease_id)]


@router.delete("/replicas/{replica_id}", response_model=ReplicaOut)
def remove_replica(
    replica_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Remove a replica (the gateways stop routing to it within seconds)."""
    with db.write() as session:
        return dump(ReplicaOut, repo.remove_replica(session, caller, replica_id))


@router.get("/leases/{lease_id}/outcomes", response_model=OutcomesOut)
def lease_outcomes(
    lease_id: PathId, db: DatabaseDep, caller: Caller = Depends(get_caller)
) -> dict[str, Any]:
    """Measured outcomes of a lease per hour, with SLO attainment and credits."""
    with db.read() as session:
        reqrepo.get_lease(session, caller, lease_id)
        return outcomes_body(session, lease_id)


def outcomes_body(session: Any, lease_id: int) -> dict[str, Any]:
    """The ``/leases/{id}/outcomes`` document (also used by the dashboard)."""
    targets = repo.lease_targets(session, lease_id)
    hours = repo.lease_hours(session, lease_id)
    calls = sum(h.calls for h in hours)
    ok = sum(h.ok for h in hours)
    return {
        "lease_id": lease_id,
        "targets": None
        if targets is None
        else {
            "ttft_ms": targets.ttft_ms,
            "tpot_ms": targets.tpot_ms,
            "percentile": targets.percentile,
        },
        "calls": calls,
        "ok": ok,
        "attainment": ok / calls if calls else None,
        "output_tokens": sum(h.output_tokens for h in hours),
        "input_tokens": sum(h.input_tokens for h in hours),
        "credit_fen": sum(h.credit_fen for h in hours),
        "hours": [HourOut.model_validate(h).model_dump(mode="json") for h in hours],
    }
