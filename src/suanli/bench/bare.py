"""The yardstick for ``suanli bench api``: a bare FastAPI app whose one endpoint inserts one
row per request, served the same way as the exchange (uvicorn, the same workers, the same
database and :class:`~suanli.store.db.Database` write path).

Measured in the same run as the exchange's order writes, it turns "orders per second on this
machine" into a ratio (Suanli's order write against the cheapest possible write through the
same stack) that holds across machines. It does what a minimal endpoint would: validate a
JSON body with pydantic, insert one row, return its id. No authentication, idempotency,
reservation or ledger.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from suanli.store.db import Database

PATH = "/bare"

_metadata = MetaData()
rows = Table(
    "bench_bare_rows",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", String(2000), nullable=False),
)
_INSERT = insert(rows).returning(rows.c.id)


class Item(BaseModel):
    offer_id: int
    gpus: int


class Body(BaseModel):
    items: list[Item]


def prepare(db: Database) -> None:
    """Create the bare endpoint's table (before any worker starts)."""
    _metadata.create_all(db.engine, checkfirst=True)


def create_bare_app(database_url: str | None = None) -> FastAPI:
    """The bare app on ``database_url`` (else ``$SUANLI_DATABASE_URL``)."""
    db = Database.connect(database_url, migrate=False)
    app = FastAPI(title="bare insert")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PATH, status_code=201)
    def write(body: Body) -> dict[str, Any]:
        with db.write() as session:
            new_id = session.execute(_INSERT, {"body": body.model_dump_json()}).scalar_one()
        return {"id": new_id}

    return app


def app_from_env() -> FastAPI:
    """Uvicorn factory (``$SUANLI_DATABASE_URL``)."""
    return create_bare_app()


def count_rows(database_url: str) -> int:
    """Rows the bare endpoint wrote (to check the bench's request count against)."""
    from sqlalchemy import func, select

    db = Database.connect(database_url, migrate=False)
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(rows)) or 0)
    finally:
        db.dispose()
