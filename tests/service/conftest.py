"""Fixtures for the service tests: a fresh exchange per test, on SQLite and (when
``SUANLI_TEST_DATABASE_URL`` is set) on PostgreSQL in a throw-away schema, with keys for two
sellers, two buyers and the operator."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from suanli.app import create_app
from suanli.store import Base, Database, create_key
from suanli.store.db import resolve_database_url
from tests.conftest import in_process

PG_ENV = "SUANLI_TEST_DATABASE_URL"
ROLES_AND_TENANTS = {
    "seller_a": ("seller", "acme-dc"),
    "seller_b": ("seller", "borealis-dc"),
    "buyer_a": ("buyer", "alpha-ai"),
    "buyer_b": ("buyer", "beta-ai"),
    "operator": ("operator", "exchange"),
}

OFFER = {
    "site": "zhongwei",
    "gpu": "H100",
    "count": 100,
    "gpus_per_node": 8,
    "price_cny_per_gpu_hour": 12.5,
    "fabric": "nvlink-ib",
}


def _pg_schema_url(base: str, schema: str) -> str:
    url = resolve_database_url(base)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str | None]:
    """A PostgreSQL URL whose search path is a fresh, migrated schema (dropped at the end),
    or None when ``SUANLI_TEST_DATABASE_URL`` is not set."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield None
        return
    schema = "suanli_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(resolve_database_url(base))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_schema_url(base, schema)
    Database.connect(url).dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_schema_url: str | None) -> str:
    """The session's PostgreSQL schema, emptied (tables truncated, ids restarted)."""
    if not pg_schema_url:
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL tests")
    engine = create_engine(pg_schema_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_schema_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "exchange.db"
    db = Database.connect(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _sqlite_url(template: Path, folder: Path) -> str:
    target = folder / "exchange.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, empty, migrated database on each backend."""
    if request.param == "sqlite":
        return _sqlite_url(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@dataclass
class Exchange:
    """A test client on a fresh app plus a header set per role/tenant."""

    client: httpx.Client
    url: str
    app: Any
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str, **extra: str) -> dict[str, str]:
        return {**self.headers[who], **extra}

    def offer(self, who: str = "seller_a", **changes: Any) -> dict[str, Any]:
        response = self.client.post("/offers", json={**OFFER, **changes}, headers=self.as_(who))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def make_keys(app: Any) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    with app.state.db.write() as session:
        for who, (role, tenant) in ROLES_AND_TENANTS.items():
            key = create_key(session, role=role, name=who, tenant=tenant)
            headers[who] = {"Authorization": f"Bearer {key.secret}"}
            ids[who] = key.key_id
    return headers, ids


@pytest.fixture
def exchange(db_url: str) -> Iterator[Exchange]:
    app = create_app(db_url)
    headers, ids = make_keys(app)
    with in_process(app) as client:
        yield Exchange(client=client, url=db_url, app=app, headers=headers, key_ids=ids)


@pytest.fixture
def sqlite_exchange(tmp_path: Path, sqlite_template: Path) -> Iterator[Exchange]:
    """The same on SQLite only (for tests whose backend does not matter)."""
    url = _sqlite_url(sqlite_template, tmp_path)
    app = create_app(url)
    headers, ids = make_keys(app)
    with in_process(app) as client:
        yield Exchange(client=client, url=url, app=app, headers=headers, key_ids=ids)
