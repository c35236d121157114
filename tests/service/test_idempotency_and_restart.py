"""Idempotent POSTs create one object; everything survives a restart on the same database."""

from __future__ import annotations

from sqlalchemy import func, select

from suanli.app import create_app
from suanli.store.migrate import current_revision
from suanli.store.models import Fill, Lease, Offer, Order
from tests.conftest import OFFER, Exchange, in_process, make_keys


def _count(exchange: Exchange, model: type) -> int:
    with exchange.app.state.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_retried_post_returns_the_stored_response_and_creates_one_object(
    exchange: Exchange,
) -> None:
    seller = exchange.as_("seller_a", **{"Idempotency-Key": "offer-1"})
    first = exchange.client.post("/offers", json=OFFER, headers=seller)
    again = exchange.client.post("/offers", json=OFFER, headers=seller)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(exchange, Offer) == 1

    offer_id = first.json()["id"]
    buyer = exchange.as_("buyer_a", **{"Idempotency-Key": "order-1"})
    body = {"items": [{"offer_id": offer_id, "gpus": 8}]}
    orders = [exchange.client.post("/orders", json=body, headers=buyer) for _ in range(3)]
    assert {o.status_code for o in orders} == {201}
    assert len({o.json()["id"] for o in orders}) == 1
    assert (_count(exchange, Order), _count(exchange, Lease), _count(exchange, Fill)) == (1, 1, 1)
    offer = exchange.client.get(f"/offers/{offer_id}", headers=buyer).json()
    assert offer["available"] == 92


def test_same_key_with_a_different_body_is_rejected_and_creates_nothing(
    exchange: Exchange,
) -> None:
    seller = exchange.as_("seller_a", **{"Idempotency-Key": "k-1"})
    assert exchange.client.post("/offers", json=OFFER, headers=seller).status_code == 201
    other = exchange.client.post("/offers", json={**OFFER, "count": 50}, headers=seller)
    assert other.status_code == 422
    assert other.json()["context"]["field"] == "Idempotency-Key"
    elsewhere = exchange.client.post(
        "/offers/1/withdraw", json={"gpus": 1}, headers=seller
    )  # same key, different endpoint
    assert elsewhere.status_code == 422
    assert _count(exchange, Offer) == 1


def test_keys_are_per_api_key_and_failures_are_not_stored(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    offer = ex.offer(count=8)
    body = {"items": [{"offer_id": offer["id"], "gpus": 8}]}
    a = ex.client.post("/orders", json=body, headers=ex.as_("buyer_a", **{"Idempotency-Key": "x"}))
    b = ex.client.post("/orders", json=body, headers=ex.as_("buyer_b", **{"Idempotency-Key": "x"}))
    assert (a.status_code, b.status_code) == (201, 409)  # b is a new request: sold out
    ex.client.post(f"/leases/{a.json()['leases'][0]['id']}/release", headers=ex.as_("buyer_a"))
    retry = ex.client.post(
        "/orders", json=body, headers=ex.as_("buyer_b", **{"Idempotency-Key": "x"})
    )
    assert retry.status_code == 201  # the failed attempt stored nothing


def test_everything_survives_a_restart(db_url: str) -> None:
    app = create_app(db_url)
    headers, _ = make_keys(app)
    with in_process(app) as client:
        offer = client.post("/offers", json=OFFER, headers=headers["seller_a"]).json()
        order = client.post(
            "/orders",
            json={"items": [{"offer_id": offer["id"], "gpus": 24}]},
            headers={**headers["buyer_a"], "Idempotency-Key": "restart-1"},
        ).json()
    app.state.db.dispose()

    again = create_app(db_url)  # a new process would do the same: migrate (no-op), serve
    assert current_revision(again.state.db.engine) is not None
    with in_process(again) as client:
        seen = client.get(f"/offers/{offer['id']}", headers=headers["buyer_a"]).json()
        assert (seen["count"], seen["available"]) == (100, 76)
        assert client.get(f"/orders/{order['id']}", headers=headers["buyer_a"]).json() == order
        replay = client.post(
            "/orders",
            json={"items": [{"offer_id": offer["id"], "gpus": 24}]},
            headers={**headers["buyer_a"], "Idempotency-Key": "restart-1"},
        )
        assert replay.json() == order
        leases = client.get("/leases", headers=headers["seller_a"]).json()
        assert leases["total"] == 1
    again.state.db.dispose()
