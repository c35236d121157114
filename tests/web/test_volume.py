"""The page's endpoints with 2,000 offers and 100,000 fills: every answer is one bounded
page or an aggregate, whatever the size of the tables (no wall-clock assertions here;
``suanli bench`` style timings are printed for the report)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import build_app, serve
from tests.web.factories import insert_history, insert_offers

pytestmark = pytest.mark.slow

OFFERS = 2_000
FILLS = 100_000
MAX_BODY_BYTES = 256_000


@pytest.fixture(scope="module")
def big_market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("web-volume")
    app = build_app(f"sqlite:///{folder / 'big.db'}")
    insert_offers(app.state.db, OFFERS, seed=1, days_back=35)
    insert_history(app.state.db, FILLS, hours_back=24 * 30, seed=2, active_share=0.05)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    start = time.perf_counter()
    r = client.get(path, params=params)
    elapsed_ms = (time.perf_counter() - start) * 1000
    print(f"{path} {params}: {elapsed_ms:.0f} ms, {len(r.content)} bytes")
    assert r.status_code == 200, r.text
    assert len(r.content) < MAX_BODY_BYTES
    return r.json()  # type: ignore[no-any-return]


def test_offers_and_fills_come_one_page_at_a_time(big_market: httpx.Client) -> None:
    offers = get(big_market, "/web/api/offers", sort="price", order="desc")
    assert offers["total"] == OFFERS and len(offers["items"]) == 25
    prices = [o["price_cny_per_gpu_hour"] for o in offers["items"]]
    assert prices == sorted(prices, reverse=True)
    last = get(big_market, "/web/api/offers", page=OFFERS // 25, sort="id")
    assert len(last["items"]) == 25
    narrow = get(big_market, "/web/api/offers", gpu="H20", hub="Ningxia", min_available=8)
    assert all(o["gpu"] == "H20" and o["available"] >= 8 for o in narrow["items"])
    fills = get(big_market, "/web/api/fills")
    assert fills["total"] == FILLS and len(fills["items"]) == 15
    deep = get(big_market, "/web/api/fills", page=FILLS // 100, page_size=100)
    assert len(deep["items"]) == 100
    ticker = get(big_market, "/web/api/ticker")
    assert ticker["fills_total"] == FILLS


def test_aggregates_stay_small(big_market: httpx.Client) -> None:
    site_map = get(big_market, "/web/api/map", city="guangzhou")
    assert sum(s["gpus_listed"] for s in site_map["sites"]) > 0
    util = get(big_market, "/web/api/utilization", hours=720)
    assert all(len(s["points"]) <= 49 for s in util["series"])
    assert {h["hub"] for h in util["now"]} == {s["hub"] for s in util["series"]}
    meta = get(big_market, "/web/api/meta")
    hourly = get(big_market, "/web/api/index", gpu=meta["default_gpu"], period="hour")
    assert 0 < len(hourly["points"]) <= 7 * 24 + 1
    daily = get(big_market, "/web/api/index", gpu=meta["default_gpu"], period="day", hub="west")
    assert 0 < len(daily["points"]) <= 91
