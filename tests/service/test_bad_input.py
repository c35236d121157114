"""Boundary and malformed input: always a 4xx naming the problem, never a 5xx, on both
backends (PostgreSQL rejects NUL bytes and 64-bit ids that SQLite would take)."""

from __future__ import annotations

import pytest

from tests.conftest import OFFER, Exchange

HUGE = 10**20


def test_bad_bodies_and_parameters_are_4xx(exchange: Exchange) -> None:
    offer = exchange.offer()
    seller, buyer = exchange.as_("seller_a"), exchange.as_("buyer_a")
    post, get = exchange.client.post, exchange.client.get
    cases = [
        get(f"/offers/{HUGE}", headers=buyer),
        get("/offers/-1", headers=buyer),
        get("/offers/abc", headers=buyer),
        get("/offers", params={"limit": -1}, headers=buyer),
        get("/offers", params={"offset": HUGE}, headers=buyer),
        get("/offers", params={"q": "gpu=\x00"}, headers=buyer),
        get("/offers", params={"q": "price<=1e999"}, headers=buyer),
        get("/offers", params={"q": "x" * 5000}, headers=buyer),
        get("/offers", params={"sort": "password"}, headers=buyer),
        get("/sites/" + "z" * 300, headers=buyer),
        post("/offers", json={**OFFER, "count": HUGE}, headers=seller),
        post("/offers", json={**OFFER, "site": "zhong\x00wei"}, headers=seller),
        post("/offers", json={**OFFER, "gpu": "H" * 10_000}, headers=seller),
        post("/offers", json={**OFFER, "price_cny_per_gpu_hour": -1}, headers=seller),
        post("/offers", json={**OFFER, "start_h": 5, "end_h": 1}, headers=seller),
        post("/offers", json={**OFFER, "colour": "red"}, headers=seller),
        post("/offers", json=[1, 2], headers=seller),
        post("/offers", content=b"{not json", headers=seller),
        post("/offers", content=b'{"count": NaN}', headers=seller),
        post("/offers", content=b"", headers=seller),
        post(f"/offers/{offer['id']}/withdraw", json={"gpus": HUGE}, headers=seller),
        exchange.client.patch(f"/offers/{offer['id']}", json={"version": HUGE}, headers=seller),
        post("/orders", json={"items": [{"offer_id": HUGE, "gpus": 1}]}, headers=buyer),
        post("/orders", json={"items": [], "quote_id": 1}, headers=buyer),
        post("/orders", json={"items": [{"offer_id": offer["id"], "gpus": 0}]}, headers=buyer),
        post("/requests", json={"kind": "fly"}, headers=buyer),
        post(
            "/requests",
            json={"kind": "train", "gpus": 8, "gpu_types": [], "hours": 1},
            headers=buyer,
        ),
        post("/quotes", json={"request_id": HUGE}, headers=buyer),
        post("/offers", json=OFFER, headers={**seller, "Idempotency-Key": "k" * 500}),
    ]
    statuses = [r.status_code for r in cases]
    assert all(400 <= s < 500 for s in statuses), list(enumerate(statuses))
    for response in cases:
        body = response.json()
        assert body["error"] and body["message"], body


@pytest.mark.parametrize("path", ["/nowhere", "/offers/1/explode"])
def test_unknown_routes_are_json_404s(sqlite_exchange: Exchange, path: str) -> None:
    response = sqlite_exchange.client.get(path, headers=sqlite_exchange.as_("buyer_a"))
    assert response.status_code in (404, 405)
    assert response.json()["error"] in ("not_found", "method_not_allowed")
