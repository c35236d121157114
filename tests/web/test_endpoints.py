"""The dashboard's read endpoints through HTTP on a real server (no browser needed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import LiveServer


def test_page_and_static_files_are_served(live_server: LiveServer) -> None:
    with live_server.client() as c:
        page = c.get("/")
        assert page.status_code == 200
        assert '<svg id="map"' in page.text
        assert "https://" not in page.text  # nothing fetched from elsewhere
        files = (("app.js", "javascript"), ("style.css", "css"), ("map.js", "javascript"))
        for name, kind in files:
            r = c.get(f"/web/static/{name}")
            assert r.status_code == 200 and kind in r.headers["content-type"]
        assert c.get("/web/static/..%2F__init__.py").status_code == 404
        assert c.get("/web/static/queries.py").status_code == 404


def test_map_has_sites_capacity_and_rings(live_server: LiveServer) -> None:
    with live_server.client() as c:
        doc = c.get("/web/api/map", params={"city": "beijing"}).json()
    assert doc["city"]["id"] == "beijing"
    zhongwei = next(s for s in doc["sites"] if s["id"] == "zhongwei")
    with live_server.client() as c:
        rows = c.get("/web/api/offers", params={"site": "zhongwei"}).json()["items"]
    assert zhongwei["gpus_listed"] == sum(o["count"] for o in rows) == 256 + 512
    assert zhongwei["gpus_leased"] == sum(o["count"] - o["available"] for o in rows) >= 16 + 32
    assert zhongwei["utilization"] == zhongwei["gpus_leased"] / zhongwei["gpus_listed"]
    beijing_metro = next(s for s in doc["sites"] if s["id"] == "beijing-metro")
    assert beijing_metro["rtt_ms"] < zhongwei["rtt_ms"]
    radii = [r["radius_km"] for r in doc["rings"]]
    assert radii == sorted(radii) and len(doc["rings"][0]["points"]) > 20


def test_unknown_city_is_a_404_with_suggestions(live_server: LiveServer) -> None:
    with live_server.client() as c:
        r = c.get("/web/api/map", params={"city": "shangai"})
    assert r.status_code == 404
    assert "shanghai" in r.text.lower()


def test_offers_filter_sort_and_paginate(live_server: LiveServer) -> None:
    with live_server.client() as c:
        h100 = c.get("/web/api/offers", params={"gpu": "H100-SXM"}).json()
        assert h100["total"] == 3 and {o["gpu"] for o in h100["items"]} == {"H100-SXM"}
        prices = [o["price_cny_per_gpu_hour"] for o in h100["items"]]
        assert prices == sorted(prices)
        params: dict[str, Any] = {"max_price": 5, "sort": "price", "order": "desc"}
        cheap = c.get("/web/api/offers", params=params)
        got = [o["price_cny_per_gpu_hour"] for o in cheap.json()["items"]]
        assert got == sorted(got, reverse=True) and max(got) <= 5
        ningxia = c.get("/web/api/offers", params={"hub": "ningxia"}).json()
        assert {o["site"] for o in ningxia["items"]} == {"zhongwei"}
        p1 = c.get("/web/api/offers", params={"page_size": 4, "sort": "id"}).json()
        p3 = c.get("/web/api/offers", params={"page_size": 4, "sort": "id", "page": 3}).json()
        assert p1["total"] == 10 and len(p1["items"]) == 4 and len(p3["items"]) == 2
        assert "seller" not in p1["items"][0]
        assert c.get("/web/api/offers", params={"sort": "seller"}).status_code == 422
        assert c.get("/web/api/offers", params={"page_size": 10_000}).status_code == 422


def test_my_offers_need_a_seller_key(live_server: LiveServer) -> None:
    with live_server.client() as c:
        assert c.get("/web/api/offers", params={"mine": "true"}).status_code == 401
    with live_server.client("ningxia-dc") as c:
        mine = c.get("/web/api/offers", params={"mine": "true"}).json()
    assert mine["total"] == 5
    with live_server.client("alice-ai") as c:
        assert c.get("/web/api/offers", params={"mine": "true"}).status_code == 403
    with live_server.client("exchange") as c:
        assert c.get("/web/api/offers", params={"mine": "true"}).json()["total"] == 10


def test_fills_ticker_index_and_utilization_are_public(live_server: LiveServer) -> None:
    with live_server.client() as c:
        fills = c.get("/web/api/fills").json()
        ticker = c.get("/web/api/ticker").json()
        index = c.get("/web/api/index", params={"gpu": "H100"}).json()
        util = c.get("/web/api/utilization", params={"hours": 24}).json()
        meta = c.get("/web/api/meta").json()
    assert fills["total"] == ticker["fills_total"] >= 3
    assert ticker["latest_fill_id"] == fills["items"][0]["id"]
    assert "buyer" not in fills["items"][0] and "seller" not in fills["items"][0]
    assert index["gpu"] == "H100-SXM" and index["points"]
    # two H100 fills in this hour: 384 GPU-h at 9.8 and 96 GPU-h at 10.4; the 10% trim
    # cuts 48 GPU-h off each end, leaving 336 at 9.8 and 48 at 10.4
    latest = index["points"][-1]
    assert latest["gpu_hours"] == 480 and latest["fills"] == 2
    assert abs(latest["v"] - (336 * 9.8 + 48 * 10.4) / 384) < 1e-3
    hubs = {h["hub"]: h for h in util["now"]}
    assert hubs["Ningxia"]["gpus_listed"] == 256 + 512
    assert hubs["Ningxia"]["gpus_leased"] >= 48
    ningxia = next(s for s in util["series"] if s["hub"] == "Ningxia")["points"]
    assert len(ningxia) >= 40 and all(0 <= p["v"] <= 1 for p in ningxia)
    # the last bucket ends now, so it agrees with the live figure
    assert abs(ningxia[-1]["v"] - hubs["Ningxia"]["utilization"]) < 1e-3
    assert "H100-SXM" in meta["gpus"] and "shanghai" in {c["id"] for c in meta["cities"]}


def test_a_buyer_sees_only_its_own_requests(live_server: LiveServer) -> None:
    with live_server.client("alice-ai") as alice:
        mine = alice.get("/web/api/requests").json()
        assert [r["name"] for r in mine["items"]] == ["alice-chat"]
        own = alice.get(f"/web/api/requests/{mine['items'][0]['id']}").json()
        assert own["assignments"] and own["cost_cny_per_hour"] == round(16 * 9.8, 2)
        assert {r["id"] for r in own["regions"]} == {"shanghai", "beijing"}
        assert own["server_ttft_ms"] == 420.0
        for region in own["regions"]:
            assert region["rtt_ms"] > 0
            assert region["ttft_ms"] == pytest.approx(420.0 + region["rtt_ms"], abs=0.1)
            assert region["met"] is True  # within the 50 ms RTT budget and 800 ms TTFT
    with live_server.client("bob-ai") as bob:
        bobs = bob.get("/web/api/requests").json()["items"]
        assert [r["name"] for r in bobs] == ["bob-secret-bot"]
        stolen = bob.get(f"/web/api/requests/{mine['items'][0]['id']}")
        assert stolen.status_code == 404 and "alice" not in stolen.text
    with live_server.client() as anonymous:
        assert anonymous.get("/web/api/requests").status_code == 401
        assert anonymous.get("/web/api/whoami").status_code == 401
    with live_server.client("exchange") as operator:
        assert operator.get("/web/api/requests").json()["total"] == 2
        assert operator.get("/web/api/whoami").json()["role"] == "operator"


def test_call_auction_fills_show_up_and_move_the_ticker(live_server: LiveServer) -> None:
    import time

    start_h = float(int(time.time() / 3600) + 1)
    order = {"gpu": "H800", "hub": "horinger", "start_h": start_h, "end_h": start_h + 4}
    with live_server.client() as public:
        before = public.get("/web/api/ticker").json()
    with live_server.client("guizhou-dc") as seller:
        listed = {"site": "horinger", "gpu": "H800", "count": 8, "price_cny_per_gpu_hour": 8.0}
        offer = seller.post("/offers", json=listed)
        assert offer.status_code == 201, offer.text
        ask = {**order, "side": "ask", "price_cny_per_gpu_hour": 8.0, "quantity_gpus": 8,
               "offer_id": offer.json()["id"]}  # fmt: skip
        assert seller.post("/market/orders", json=ask).status_code == 201
    with live_server.client("alice-ai") as buyer:
        bid = {**order, "side": "bid", "price_cny_per_gpu_hour": 9.0, "quantity_gpus": 8}
        assert buyer.post("/market/orders", json=bid).status_code == 201
    with live_server.client("exchange") as operator:
        assert operator.post("/market/clear").json()["fills"] == 1
    with live_server.client() as public:
        after = public.get("/web/api/ticker").json()
        fills = public.get("/web/api/auction-fills").json()
    assert after["auction_fills_total"] == before["auction_fills_total"] + 1
    newest = fills["items"][0]
    assert newest["gpu"] == "H800-SXM" and newest["gpus"] == 8 and newest["hours"] == 4
    assert 8.0 <= newest["price_cny_per_gpu_hour"] <= 9.0
    assert "buyer" not in newest and "seller" not in newest


def test_style_shares_names_colours_and_the_outline(live_server: LiveServer) -> None:
    from suanli.catalog.cartography import util_colour

    with live_server.client() as c:
        doc = c.get("/web/api/style").json()
    assert doc["names"]["zh-CN"]["sites"]["zhongwei"] == "中卫"
    assert doc["names"]["en"]["sites"]["zhongwei"] == "Zhongwei"
    assert doc["names"]["zh-CN"]["hubs"]["Yangtze River Delta"] == "长三角"
    assert doc["names"]["zh-CN"]["cities"]["shanghai"] == "上海"
    assert "Natural Earth" in doc["outline"]["source"]
    assert len(doc["outline"]["china"][0]) > 500  # the mainland ring, not a sketch
    edges, colours = doc["util_edges"], doc["util_colours"]
    assert len(colours) == len(edges) - 1
    for u in (0.0, 0.01, 0.06, 0.6, 1.0):
        i = max(k for k in range(len(colours)) if edges[k] <= u)
        assert colours[i] == util_colour(u)


def test_index_carries_the_reference_with_unit_date_and_source(live_server: LiveServer) -> None:
    with live_server.client() as c:
        doc = c.get("/web/api/index", params={"gpu": "H20", "hub": "west"}).json()
    ref = doc["reference"]
    assert ref["unit"] == "CNY per GPU-hour" and ref["date"] and ref["source"]
    assert ref["cny_per_gpu_hour"] == doc["reference_cny_per_gpu_hour"]


@pytest.mark.parametrize("hub", [None, "west", "Ningxia", "zhongwei"])
def test_index_csv_is_the_series_with_utc_and_shanghai_times(
    live_server: LiveServer, hub: str | None
) -> None:
    import csv
    import io
    from datetime import datetime, timedelta

    params = {"gpu": "H20", **({"hub": hub} if hub else {})}
    with live_server.client() as c:
        doc = c.get("/web/api/index", params=params).json()
        r = c.get("/web/api/index.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(doc["points"]) > 0
    for row, p in zip(rows, doc["points"], strict=True):
        assert row["period_start_utc"] == p["t"]
        utc = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        local = datetime.fromisoformat(row["period_start_asia_shanghai"])
        assert local == utc and local.utcoffset() == timedelta(hours=8)
        assert float(row["cny_per_gpu_hour"]) == p["v"]
        assert float(row["gpu_hours"]) == p["gpu_hours"]


def test_offer_detail_has_site_fabric_verification_and_prices_paid(
    live_server: LiveServer,
) -> None:
    with live_server.client() as c:
        listed = c.get("/web/api/offers", params={"site": "zhongwei", "gpu": "H20"}).json()
        offer_id = listed["items"][0]["id"]
        doc = c.get(f"/web/api/offers/{offer_id}").json()
        missing = c.get("/web/api/offers/999999")
    assert doc["site"] == "zhongwei" and doc["site_name"] == "Zhongwei"
    assert doc["province"] == "Ningxia" and doc["fabric"]
    assert doc["verified"] is False and doc["verified_at"] is None
    assert doc["measured"] is None  # no served traffic through the gateway
    assert "seller" not in doc  # market data only
    assert doc["fills"], "bob's order filled on this offer"
    assert any(f["gpus"] == 32 and f["price_cny_per_gpu_hour"] == 4.9 for f in doc["fills"])
    ids = [f["id"] for f in doc["fills"]]
    assert ids == sorted(ids, reverse=True) and all(f["time"].endswith("Z") for f in doc["fills"])
    assert missing.status_code == 404


def test_book_depth_sums_open_orders_per_price_level() -> None:
    from suanli.market.orders import ask, bid, instrument
    from suanli.web.queries import book_depth

    inst = instrument("H100", "zhongwei", "on-demand", 100.0, 104.0)
    orders = [
        bid("b1", inst, "alice", 10.0, 8),
        bid("b2", inst, "bob", 10.0, 4),
        bid("b3", inst, "bob", 9.0, 2),
        ask("a1", inst, "dc", 11.0, 16),
    ]
    doc = book_depth(orders, every_s=3600.0, now_s=3600.0 * 10 + 5)
    (only,) = doc["instruments"]
    levels = [(lv["side"], lv["price_cny_per_gpu_hour"], lv["gpus"], lv["orders"])
              for lv in only["levels"]]  # fmt: skip
    assert levels == [("ask", 11.0, 16, 1), ("bid", 10.0, 12, 2), ("bid", 9.0, 2, 1)]
    assert doc["next_clearing"] == "1970-01-01T11:00:00Z"
    assert book_depth(orders, every_s=0.0, now_s=0.0)["next_clearing"] is None
