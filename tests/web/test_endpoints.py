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
        ask = {**order, "side": "ask", "price_cny_per_gpu_hour": 8.0, "quantity_gpus": 8}
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
