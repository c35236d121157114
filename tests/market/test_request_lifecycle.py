"""A request's status follows what happened to it, for direct orders and auction bids alike:
submitted -> quoted -> ordered -> active -> ended, or cancelled / expired."""

from __future__ import annotations

import time

from sqlalchemy import text

from suanli.store import Database
from tests.conftest import Exchange as Market

SERVE = {"kind": "serve", "model": "Qwen2.5-32B", "rate_per_s": 2, "prompt_tokens": 500,
         "output_tokens": 100, "ttft_ms": 2000, "tpot_ms": 100,
         "regions": {"shanghai": 1.0}}  # fmt: skip


def _status(m: Market, request_id: int) -> str:
    one = m.client.get(f"/requests/{request_id}", headers=m.as_("buyer_a")).json()["status"]
    listed = m.client.get("/requests", headers=m.as_("buyer_a")).json()["items"]
    web = m.client.get(f"/web/api/requests/{request_id}", headers=m.as_("buyer_a")).json()
    assert {one, web["status"]} == {r["status"] for r in listed if r["id"] == request_id}
    return str(one)


def _submit(m: Market) -> int:
    r = m.client.post("/requests", json=SERVE, headers=m.as_("buyer_a"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_direct_order_moves_its_request_to_active_then_ended(market: Market) -> None:
    m, c = market, market.client
    offer = m.offer_id(count=16)
    rid = _submit(m)
    assert _status(m, rid) == "submitted"
    assert c.post("/quotes", json={"request_id": rid}, headers=m.as_("buyer_a")).is_success
    assert _status(m, rid) == "quoted"
    order = c.post("/orders", json={"items": [{"offer_id": offer, "gpus": 4}],
                                    "request_id": rid}, headers=m.as_("buyer_a"))  # fmt: skip
    assert order.status_code == 201, order.text
    assert _status(m, rid) == "active"
    lease = order.json()["leases"][0]["id"]
    assert c.post(f"/leases/{lease}/release", headers=m.as_("buyer_a")).is_success
    assert _status(m, rid) == "ended"


def test_an_auction_bid_orders_its_request_and_the_lease_drives_it(market: Market) -> None:
    m, c = market, market.client
    offer = m.offer_id(count=16)
    rid = _submit(m)
    start = float(int(time.time() / 3600))
    window = {"pricing": "on-demand", "start_h": start, "end_h": start + 4}
    bid = {**window, "side": "bid", "gpu": "H100", "hub": "zhongwei", "quantity_gpus": 8,
           "price_cny_per_gpu_hour": 9.0, "request_id": rid}  # fmt: skip
    assert c.post("/market/orders", json=bid, headers=m.as_("buyer_a")).status_code == 201
    assert _status(m, rid) == "ordered"
    ask = {**window, "side": "ask", "offer_id": offer, "quantity_gpus": 8,
           "price_cny_per_gpu_hour": 8.0}  # fmt: skip
    assert c.post("/market/orders", json=ask, headers=m.as_("seller_a")).status_code == 201
    assert c.post("/market/clear", headers=m.as_("operator")).json()["fills"] == 1
    assert _status(m, rid) == "ordered"  # its lease is pending
    lease = c.get("/leases", headers=m.as_("buyer_a")).json()["items"][0]["id"]
    assert c.post(f"/market/leases/{lease}/activate", headers=m.as_("buyer_a")).is_success
    assert _status(m, rid) == "active"
    assert c.post(f"/requests/{rid}/cancel", headers=m.as_("buyer_a")).status_code == 409
    assert c.post(f"/market/leases/{lease}/cancel", headers=m.as_("buyer_a")).is_success
    assert _status(m, rid) == "ended"


def test_requests_are_cancelled_or_expire_and_then_take_no_orders(market: Market) -> None:
    m, c = market, market.client
    offer = m.offer_id(count=16)
    cancelled, stale = _submit(m), _submit(m)
    r = c.post(f"/requests/{cancelled}/cancel", headers=m.as_("buyer_a"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert c.post(f"/requests/{cancelled}/cancel", headers=m.as_("buyer_a")).status_code == 409
    order = c.post("/orders", json={"items": [{"offer_id": offer, "gpus": 1}],
                                    "request_id": cancelled}, headers=m.as_("buyer_a"))  # fmt: skip
    assert order.status_code == 409
    db = Database.connect(m.url)
    with db.write() as session:  # submitted eight days ago and never ordered
        session.execute(
            text("UPDATE requests SET created_at = :t WHERE id = :id"),
            {"t": "2000-01-01 00:00:00", "id": stale},
        )
    db.dispose()
    c.post("/market/clear", headers=m.as_("operator"))
    assert _status(m, stale) == "expired"
    assert _status(m, cancelled) == "cancelled"
