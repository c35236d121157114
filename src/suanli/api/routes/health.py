"""``/healthz`` (liveness plus a database round trip) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from suanli.api.deps import DatabaseDep, MetricsDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(db: DatabaseDep) -> dict[str, str]:
    """``{"status": "ok"}`` when the server can reach its database."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": db.engine.dialect.name}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(db: DatabaseDep, metrics: MetricsDep) -> PlainTextResponse:
    """Prometheus text format: requests, latencies, GPUs listed/leased/available by hub."""
    body = metrics.render(db)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
