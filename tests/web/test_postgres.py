"""The dashboard's SQL (time buckets, scoping) on PostgreSQL, when SUANLI_TEST_DATABASE_URL
is set; skipped otherwise. Runs in a throw-away schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text, update

from suanli.store.db import resolve_database_url
from suanli.store.models import Lease, Offer
from tests.web.conftest import build_app, seed, serve

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_server() -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    base = os.environ.get("SUANLI_TEST_DATABASE_URL")
    if not base:
        pytest.skip("set SUANLI_TEST_DATABASE_URL to run the dashboard on PostgreSQL")
    admin = create_engine(resolve_database_url(base))
    schema = "suanli_web_" + uuid.uuid4().hex[:10]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    app = build_app(f"{base}{sep}options=-csearch_path%3D{schema}")
    try:
        keys, _ = seed(app.state.db)
        with app.state.db.write() as s:
            two_days_ago = datetime.now(UTC) - timedelta(days=2)
            s.execute(update(Offer).values(created_at=two_days_ago))
            s.execute(
                update(Lease)
                .where(Lease.gpu == "H100-SXM")
                .values(created_at=datetime.now(UTC) - timedelta(hours=30))
            )
        with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield client, keys
    finally:
        app.state.db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_aggregates_and_scoping_on_postgres(pg_server: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = pg_server
    util = client.get("/web/api/utilization", params={"hours": 48}).json()
    guizhou = next(s for s in util["series"] if s["hub"] == "Guizhou")["points"]
    # the H100 lease on Gui'an (8 of 192 GPUs) started 30 h ago: zero before, 8/192 after
    assert guizhou[0]["v"] == 0.0 and guizhou[-1]["v"] == pytest.approx(8 / 192, abs=1e-3)
    assert sum(1 for p in guizhou if p["v"] > 0) in range(29, 32)
    index = client.get("/web/api/index", params={"gpu": "H20"}).json()
    assert index["points"][-1]["v"] == pytest.approx(4.9)
    offers = client.get("/web/api/offers", params={"hub": "Ningxia", "sort": "price"}).json()
    assert [o["gpu"] for o in offers["items"]] == ["H20", "H100-SXM"]
    bob = {"Authorization": f"Bearer {keys['bob-ai']}"}
    assert client.get("/web/api/requests/1", headers=bob).status_code == 404
    alice = {"Authorization": f"Bearer {keys['alice-ai']}"}
    assert client.get("/web/api/requests/1", headers=alice).json()["regions"]
