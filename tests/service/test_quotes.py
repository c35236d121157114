"""Quotes size and place a request on the open offers and commit nothing; an order made
from a quote reserves exactly the quoted GPUs."""

from __future__ import annotations

from typing import Any

from tests.conftest import Exchange

SERVE = {
    "kind": "serve",
    "model": "Qwen2.5-32B",
    "rate_per_s": 10,
    "prompt_tokens": 1000,
    "output_tokens": 250,
    "ttft_ms": 800,
    "tpot_ms": 50,
    "regions": {"shanghai": 0.6, "beijing": 0.4},
}


def _market(ex: Exchange) -> list[dict[str, Any]]:
    return [
        ex.offer(site="zhongwei", gpu="H100", count=64, price_cny_per_gpu_hour=12),
        ex.offer(site="shanghai-metro", gpu="H100", count=64, price_cny_per_gpu_hour=16),
        ex.offer("seller_b", site="guian", gpu="H20", count=64, price_cny_per_gpu_hour=6),
    ]


def _quote(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    buyer = ex.as_("buyer_a")
    request = ex.client.post("/requests", json=body, headers=buyer)
    assert request.status_code == 201, request.text
    quote = ex.client.post("/quotes", json={"request_id": request.json()["id"]}, headers=buyer)
    assert quote.status_code == 201, quote.text
    result: dict[str, Any] = quote.json()
    return result


def test_serve_quote_is_sized_placed_and_reserves_nothing(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    offers = _market(ex)
    quote = _quote(ex, SERVE)
    assert quote["feasible"] is True
    assignments = quote["result"]["assignments"]
    assert assignments and quote["gpus"] == sum(a["gpus"] for a in assignments)
    assert quote["result"]["sizing"], "the sizing's candidate configurations are shown"
    assert {a["offer_id"] for a in assignments} <= {o["id"] for o in offers}
    for a in assignments:
        assert set(a["rtt_ms"]) == {"shanghai", "beijing"}
    assert abs(quote["cost_cny_per_hour"] - sum(a["cost_cny_per_hour"] for a in assignments)) < 1e-6
    buyer = ex.as_("buyer_a")
    after = ex.client.get("/offers", headers=buyer).json()["items"]
    assert [o["available"] for o in after] == [64, 64, 64]

    order = ex.client.post("/orders", json={"quote_id": quote["id"]}, headers=buyer)
    assert order.status_code == 201, order.text
    assert order.json()["gpus"] == quote["gpus"]
    assert order.json()["request_id"] == quote["request_id"]
    free = sum(o["available"] for o in ex.client.get("/offers", headers=buyer).json()["items"])
    assert free == 3 * 64 - quote["gpus"]


def test_train_and_batch_quotes_place_gangs_and_gpu_hours(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    _market(ex)
    train = _quote(ex, {"kind": "train", "gpus": 16, "gpu_types": ["H100"], "hours": 72})
    assert train["feasible"] and train["gpus"] == 16
    assert len(train["result"]["assignments"]) == 1  # a gang sits in one offer
    order = ex.client.post(
        "/orders", json={"quote_id": train["id"]}, headers=ex.as_("buyer_a")
    ).json()
    assert order["leases"][0]["hours"] == 72
    batch = _quote(ex, {"kind": "batch", "gpu_hours": 480, "gpu_types": ["H20"], "deadline_h": 24})
    assert batch["feasible"] and batch["gpus"] == 20


def test_a_quote_that_cannot_be_met_says_why(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    _market(ex)
    quote = _quote(ex, {"kind": "train", "gpus": 512, "gpu_types": ["H100"], "hours": 10})
    assert quote["feasible"] is False and quote["result"]["unplaced_reason"]
    order = ex.client.post("/orders", json={"quote_id": quote["id"]}, headers=ex.as_("buyer_a"))
    assert order.status_code == 409


def test_unknown_names_are_rejected_at_submission(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    buyer = ex.as_("buyer_a")
    for change, field in (
        ({"model": "Qwen9-1T"}, "model"),
        ({"regions": {"atlantis": 1}}, "regions"),
        ({"gpu_types": ["H1000"]}, "gpu"),
    ):
        response = ex.client.post("/requests", json={**SERVE, **change}, headers=buyer)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["context"]["field"] == field
