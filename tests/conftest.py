"""Shared fixtures: one exchange per test (on SQLite, and on PostgreSQL when
``SUANLI_TEST_DATABASE_URL`` is set) with keys for two sellers, two buyers and the operator,
served in-process, plus factories for what tests put on it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from suanli.app import create_app
from suanli.client import InProcessTransport
from suanli.store import Base, Database, create_key
from suanli.store.db import resolve_database_url

BASE_URL = "http://testserver"
PG_ENV = "SUANLI_TEST_DATABASE_URL"

#: who -> (role, tenant): the keys every test exchange has.
ROLES_AND_TENANTS = {
    "seller_a": ("seller", "acme-dc"),
    "seller_b": ("seller", "borealis-dc"),
    "buyer_a": ("buyer", "alpha-ai"),
    "buyer_b": ("buyer", "beta-ai"),
    "operator": ("operator", "exchange"),
}

#: The body of a typical offer (factories override fields).
OFFER = {
    "site": "zhongwei",
    "gpu": "H100",
    "count": 100,
    "gpus_per_node": 8,
    "price_cny_per_gpu_hour": 12.5,
    "fabric": "nvlink-ib",
}

#: The body of a typical serving request.
SERVE_REQUEST = {
    "kind": "serve",
    "model": "Qwen2.5-7B",
    "rate_per_s": 5,
    "prompt_tokens": 500,
    "output_tokens": 200,
    "ttft_ms": 800,
    "tpot_ms": 50,
    "regions": {"shanghai": 1},
}


@pytest.fixture(autouse=True, scope="session")
def _no_rate_limits() -> Iterator[None]:
    """Apps built from the environment in tests have no rate limits: one test client sends
    many requests from one address. The rate-limit tests pass their own Settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PER_IP", "PER_KEY", "AUTH_FAILURES"):
            patch.setenv(f"SUANLI_RATE_LIMIT_{name}", "")
        yield


@contextmanager
def in_process(app: Any, **headers: str) -> Iterator[httpx.Client]:
    """An HTTP client for ``app`` served in this process (lifespan included), the way
    ``suanli demo`` runs its exchange."""
    transport = InProcessTransport(app)
    try:
        with httpx.Client(
            transport=transport, base_url=BASE_URL, headers=headers, follow_redirects=True
        ) as client:
            yield client
    finally:
        transport.close()


@dataclass
class Exchange:
    """A fresh exchange: its app, an in-process client, and a key per role and tenant."""

    client: httpx.Client
    url: str
    app: Any
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None  # for an ExchangeClient on the same app

    def key(self, who: str) -> str:
        """``who``'s API key."""
        return self.headers[who]["Authorization"].removeprefix("Bearer ")

    def as_(self, who: str, **extra: str) -> dict[str, str]:
        """The headers of ``who``'s key (plus ``extra``)."""
        return {**self.headers[who], **extra}

    def post(self, who: str, path: str, body: Any) -> dict[str, Any]:
        """POST as ``who``; the answer's JSON (the call must succeed)."""
        response = self.client.post(path, json=body, headers=self.as_(who))
        assert response.status_code < 300, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def offer(self, who: str = "seller_a", **changes: Any) -> dict[str, Any]:
        """Factory: an offer of :data:`OFFER` with ``changes``, listed by ``who``."""
        return self.post(who, "/offers", {**OFFER, **changes})

    def offer_id(
        self,
        gpu: str = "H100",
        site: str = "zhongwei",
        count: int = 64,
        who: str = "seller_a",
        price: float = 8.0,
    ) -> int:
        """Factory: list a plain offer (the GPUs an ask sells) and return its id."""
        return list_offer(
            self.client, self.headers[who], gpu=gpu, site=site, count=count, price=price
        )

    def serve_request(self, who: str = "buyer_a", **changes: Any) -> dict[str, Any]:
        """Factory: a serving request of :data:`SERVE_REQUEST` with ``changes``."""
        return self.post(who, "/requests", {**SERVE_REQUEST, **changes})


def list_offer(
    client: httpx.Client,
    headers: dict[str, str],
    *,
    gpu: str = "H100",
    site: str = "zhongwei",
    count: int = 64,
    price: float = 8.0,
) -> int:
    """Factory for any client: list a plain offer and return its id."""
    body = {"site": site, "gpu": gpu, "count": count, "price_cny_per_gpu_hour": price}
    response = client.post("/offers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def make_keys(app: Any) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Keys for :data:`ROLES_AND_TENANTS` on ``app``'s database: (headers, key ids)."""
    headers: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    with app.state.db.write() as session:
        for who, (role, tenant) in ROLES_AND_TENANTS.items():
            key = create_key(session, role=role, name=who, tenant=tenant)
            headers[who] = {"Authorization": f"Bearer {key.secret}"}
            ids[who] = key.key_id
    return headers, ids


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


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a fresh copy of the migrated template in ``folder``."""
    target = folder / "exchange.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, empty, migrated database on each backend."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@contextmanager
def running_exchange(url: str) -> Iterator[Exchange]:
    """An :class:`Exchange` on the database at ``url``, served in-process while open."""
    app = create_app(url)
    headers, ids = make_keys(app)
    transport = InProcessTransport(app)
    try:
        with httpx.Client(transport=transport, base_url=BASE_URL, follow_redirects=True) as c:
            yield Exchange(c, url, app, headers=headers, key_ids=ids, transport=transport)
    finally:
        transport.close()


@pytest.fixture
def exchange(db_url: str) -> Iterator[Exchange]:
    """The exchange, once per backend."""
    with running_exchange(db_url) as ex:
        yield ex


@pytest.fixture
def sqlite_exchange(tmp_path: Path, sqlite_template: Path) -> Iterator[Exchange]:
    """The same on SQLite only (for tests whose backend does not matter)."""
    with running_exchange(sqlite_copy(sqlite_template, tmp_path)) as ex:
        yield ex
