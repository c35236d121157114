"""Offers through HTTP: listing, search, versioned updates, withdrawal."""

from __future__ import annotations

from tests.conftest import Exchange


def test_seller_lists_an_offer_and_catalog_names_are_resolved(exchange: Exchange) -> None:
    offer = exchange.offer(gpu="h100 sxm", site="Zhongwei")
    assert offer["gpu"] == "H100-SXM"
    assert offer["site"] == "zhongwei"
    assert offer["hub"] == "Ningxia"
    assert offer["seller"] == "acme-dc"
    assert (offer["count"], offer["available"], offer["version"]) == (100, 100, 1)
    got = exchange.client.get(f"/offers/{offer['id']}", headers=exchange.as_("buyer_a"))
    assert got.json() == offer


def test_unknown_gpu_is_a_422_with_suggestions(exchange: Exchange) -> None:
    response = exchange.client.post(
        "/offers",
        json={"site": "zhongwei", "gpu": "H1000", "count": 8, "price_cny_per_gpu_hour": 10},
        headers=exchange.as_("seller_a"),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["context"]["field"] == "gpu"
    assert "H100" in body["hint"]


def test_search_with_compact_filter_and_query_parameters(exchange: Exchange) -> None:
    exchange.offer(gpu="H100", site="zhongwei", count=16, price_cny_per_gpu_hour=12)
    exchange.offer(gpu="H100", site="zhongwei", count=4, price_cny_per_gpu_hour=11)
    exchange.offer(gpu="H100", site="shanghai-metro", count=64, price_cny_per_gpu_hour=14)
    exchange.offer(gpu="H20", site="guian", count=64, price_cny_per_gpu_hour=5)
    exchange.offer(gpu="H100", site="guian", count=32, price_cny_per_gpu_hour=18)
    buyer = exchange.as_("buyer_a")
    found = exchange.client.get(
        "/offers", params={"q": "gpu=H100 count>=8 price<=15 hub=west"}, headers=buyer
    ).json()
    assert [(o["site"], o["count"]) for o in found["items"]] == [("zhongwei", 16)]
    found = exchange.client.get(
        "/offers", params={"gpu": "H100", "max_price": 15, "sort": "-price"}, headers=buyer
    ).json()
    assert [o["price_cny_per_gpu_hour"] for o in found["items"]] == [14, 12, 11]
    found = exchange.client.get(
        "/offers", params={"q": "hub=Guizhou, price<10"}, headers=buyer
    ).json()
    assert [o["gpu"] for o in found["items"]] == ["H20"]


def test_bad_filters_are_422_naming_the_term(exchange: Exchange) -> None:
    buyer = exchange.as_("buyer_a")
    for q, words in [
        ("gpu=H100 count>=eight", "count takes a number"),
        ("colour=red", "unknown filter field"),
        ("gpu>H100", "needs = or !="),
        ("price<=", "cannot read the filter"),
        ("gpu=Z9000", "Z9000"),
        ("fabric=smoke", "unknown fabric"),
    ]:
        response = exchange.client.get("/offers", params={"q": q}, headers=buyer)
        assert response.status_code == 422, q
        assert words in response.json()["message"], (q, response.json())


def test_pagination_is_capped_and_reports_the_next_page(exchange: Exchange) -> None:
    for i in range(5):
        exchange.offer(count=8, price_cny_per_gpu_hour=10 + i)
    page = exchange.client.get(
        "/offers", params={"limit": 2, "offset": 2}, headers=exchange.as_("buyer_a")
    ).json()
    assert (page["total"], len(page["items"]), page["next_offset"]) == (5, 2, 4)
    last = exchange.client.get(
        "/offers", params={"limit": 2, "offset": 4}, headers=exchange.as_("buyer_a")
    ).json()
    assert last["next_offset"] is None
    too_big = exchange.client.get(
        "/offers", params={"limit": 5000}, headers=exchange.as_("buyer_a")
    )
    assert too_big.status_code == 422


def test_stale_version_gets_409_and_current_one_wins(exchange: Exchange) -> None:
    offer = exchange.offer()
    seller = exchange.as_("seller_a")
    first = exchange.client.patch(
        f"/offers/{offer['id']}",
        json={"version": 1, "price_cny_per_gpu_hour": 11},
        headers=seller,
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = exchange.client.patch(
        f"/offers/{offer['id']}",
        json={"version": 1, "price_cny_per_gpu_hour": 9},
        headers=seller,
    )
    assert stale.status_code == 409
    assert stale.json()["context"]["current_version"] == 2
    now = exchange.client.get(f"/offers/{offer['id']}", headers=seller).json()
    assert now["price_cny_per_gpu_hour"] == 11


def test_count_cannot_drop_below_leased_gpus(exchange: Exchange) -> None:
    offer = exchange.offer(count=16)
    order = exchange.client.post(
        "/orders",
        json={"items": [{"offer_id": offer["id"], "gpus": 10}]},
        headers=exchange.as_("buyer_a"),
    )
    assert order.status_code == 201
    seller = exchange.as_("seller_a")
    shrink = exchange.client.patch(
        f"/offers/{offer['id']}", json={"version": 1, "count": 8}, headers=seller
    )
    assert shrink.status_code == 409
    grow = exchange.client.patch(
        f"/offers/{offer['id']}", json={"version": 1, "count": 24}, headers=seller
    )
    assert (grow.json()["count"], grow.json()["available"]) == (24, 14)


def test_withdraw_takes_only_free_capacity(exchange: Exchange) -> None:
    offer = exchange.offer(count=16)
    exchange.client.post(
        "/orders",
        json={"items": [{"offer_id": offer["id"], "gpus": 8}]},
        headers=exchange.as_("buyer_a"),
    )
    seller = exchange.as_("seller_a")
    url = f"/offers/{offer['id']}/withdraw"
    too_many = exchange.client.post(url, json={"gpus": 9}, headers=seller)
    assert too_many.status_code == 409
    some = exchange.client.post(url, json={"gpus": 4}, headers=seller).json()
    assert (some["count"], some["available"]) == (12, 4)
    rest = exchange.client.post(url, json={}, headers=seller).json()
    assert (rest["count"], rest["available"], rest["status"]) == (8, 0, "open")
