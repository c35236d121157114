"""A request's status follows its trade: open, quoted, active while a lease of its order
runs, ended once released; the API's request endpoints and the dashboard say the same."""

from __future__ import annotations

from suanli.store.requests import lifecycle_status
from tests.conftest import Exchange

SERVE = {
    "kind": "serve",
    "model": "Qwen2.5-7B",
    "rate_per_s": 5,
    "prompt_tokens": 500,
    "output_tokens": 200,
    "ttft_ms": 800,
    "tpot_ms": 50,
    "regions": {"shanghai": 1},
}


def test_lifecycle_status_rules() -> None:
    assert lifecycle_status("open", []) == "open"
    assert lifecycle_status("quoted", []) == "quoted"
    assert lifecycle_status("quoted", ["ended", "active"]) == "active"
    assert lifecycle_status("quoted", ["pending"]) == "ordered"
    assert lifecycle_status("quoted", ["ended", "cancelled"]) == "ended"


def test_request_status_follows_its_order_and_lease(exchange: Exchange) -> None:
    c, buyer = exchange.client, exchange.as_("buyer_a")
    exchange.offer(count=64)
    request_id = c.post("/requests", json=SERVE, headers=buyer).json()["id"]

    def statuses() -> tuple[str, str, str]:
        one = c.get(f"/requests/{request_id}", headers=buyer).json()["status"]
        listed = c.get("/requests", headers=buyer).json()["items"][0]["status"]
        page = c.get(f"/web/api/requests/{request_id}", headers=buyer).json()["status"]
        return one, listed, page

    assert statuses() == ("open", "open", "open")
    quote = c.post("/quotes", json={"request_id": request_id}, headers=buyer).json()
    assert quote["feasible"] and statuses() == ("quoted", "quoted", "quoted")
    order = c.post("/orders", json={"quote_id": quote["id"]}, headers=buyer).json()
    assert statuses() == ("active", "active", "active")
    for lease in order["leases"]:
        assert c.post(f"/leases/{lease['id']}/release", headers=buyer).status_code == 200
    assert statuses() == ("ended", "ended", "ended")
