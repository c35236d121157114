"""Fixtures for the market's HTTP tests: a fresh exchange per test on SQLite, and on
PostgreSQL (a throw-away schema) when ``SUANLI_TEST_DATABASE_URL`` is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from suanli.app import create_app
from suanli.store import create_key
from suanli.store.db import resolve_database_url
from tests.conftest import in_process

PG_ENV = "SUANLI_TEST_DATABASE_URL"
WHO = {
    "seller_a": ("seller", "acme-dc"),
    "buyer_a": ("buyer", "alpha-ai"),
    "buyer_b": ("buyer", "beta-ai"),
    "operator": ("operator", "exchange"),
}


@dataclass
class Market:
    client: httpx.Client
    url: str
    headers: dict[str, dict[str, str]]

    def as_(self, who: str, **extra: str) -> dict[str, str]:
        return {**self.headers[who], **extra}

    def offer(
        self,
        gpu: str = "H100",
        site: str = "zhongwei",
        count: int = 64,
        who: str = "seller_a",
        price: float = 8.0,
    ) -> int:
        """List an offer (the GPUs an ask sells) and return its id."""
        return list_offer(self.client, self.headers[who], gpu=gpu, site=site, count=count,
                          price=price)  # fmt: skip


def list_offer(
    client: httpx.Client,
    headers: dict[str, str],
    *,
    gpu: str = "H100",
    site: str = "zhongwei",
    count: int = 64,
    price: float = 8.0,
) -> int:
    body = {"site": site, "gpu": gpu, "count": count, "price_cny_per_gpu_hour": price}
    r = client.post("/offers", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def keys_for(app: object) -> dict[str, dict[str, str]]:
    headers = {}
    with app.state.db.write() as session:  # type: ignore[attr-defined]
        for who, (role, tenant) in WHO.items():
            key = create_key(session, role=role, name=who, tenant=tenant)
            headers[who] = {"Authorization": f"Bearer {key.secret}"}
    return headers


@pytest.fixture(params=["sqlite", "postgresql"])
def market_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'market.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL tests")
    schema = "suanli_m_" + uuid.uuid4().hex[:12]
    admin = create_engine(resolve_database_url(base))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = resolve_database_url(base)
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def market(market_db_url: str) -> Iterator[Market]:
    app = create_app(market_db_url)
    headers = keys_for(app)
    with in_process(app) as client:
        yield Market(client, market_db_url, headers)
