"""Measured minutes, settlement and replica registration on each backend (SQLite and, with
``SUANLI_TEST_DATABASE_URL``, PostgreSQL): sums add up across flushes and gateways, an hour
is settled once, and its credit lands in the ledger as a balanced seller-to-buyer posting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from suanli.gateway.outcomes import Aggregator, CallRecord
from suanli.store import gateway as repo
from tests.conftest import Exchange


def _lease(exchange: Exchange) -> int:
    offer = exchange.offer(price_cny_per_gpu_hour=10.0)
    spec = {
        "kind": "serve",
        "model": "Qwen2.5-7B",
        "rate_per_s": 1,
        "prompt_tokens": 100,
        "output_tokens": 10,
        "ttft_ms": 100.0,
        "tpot_ms": 20.0,
        "percentile": 90.0,
        "regions": {"Shanghai": 1.0},
    }
    request = exchange.client.post("/requests", json=spec, headers=exchange.as_("buyer_a"))
    assert request.status_code == 201, request.text
    order = exchange.client.post(
        "/orders",
        json={"items": [{"offer_id": offer["id"], "gpus": 2}], "request_id": request.json()["id"]},
        headers=exchange.as_("buyer_a"),
    )
    assert order.status_code == 201, order.text
    return int(order.json()["leases"][0]["id"])


def _call(lease_id: int, at_s: float, ok: bool) -> CallRecord:
    return CallRecord(
        lease_id=lease_id,
        replica_id=1,
        region="Shanghai",
        at_s=at_s,
        streamed=True,
        failed=False,
        ttft_ms=50.0 if ok else 500.0,
        e2e_ms=50.0 + 9 * 10.0,
        input_tokens=100,
        output_tokens=10,
        emulated=False,
        ttft_ok=ok,
        tpot_ok=True,
    )


def test_minutes_add_up_and_an_hour_settles_once_into_the_ledger(exchange: Exchange) -> None:
    lease_id = _lease(exchange)
    r = exchange.client.post(
        f"/leases/{lease_id}/replicas",
        json={"model": "Qwen2.5-7B", "url": "http://10.0.0.5:8000/v1"},
        headers=exchange.as_("seller_a"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["url"] == "http://10.0.0.5:8000"  # the base URL, without /v1
    again = exchange.client.post(
        f"/leases/{lease_id}/replicas",
        json={"model": "Qwen2.5-7B", "url": "http://10.0.0.5:8000"},
        headers=exchange.as_("seller_a"),
    )
    assert again.status_code == 409
    other = exchange.client.post(
        f"/leases/{lease_id}/replicas",
        json={"model": "Qwen2.5-7B", "url": "http://10.0.0.6:8000"},
        headers=exchange.as_("seller_b"),
    )
    assert other.status_code == 403

    now = time.time()
    db = exchange.app.state.db
    for ok_calls, bad_calls in ((6, 1), (2, 1)):  # two flushes (or two gateways), same minute
        agg = Aggregator()
        for _ in range(ok_calls):
            agg.add(_call(lease_id, now, True))
        for _ in range(bad_calls):
            agg.add(_call(lease_id, now, False))
        with db.write() as session:
            repo.add_minutes(session, agg.drain())
    hour = datetime.fromtimestamp(now // 3600 * 3600, UTC)
    with db.write() as session:
        first = repo.settle(session, now=hour + timedelta(hours=1, minutes=5))
    with db.write() as session:
        second = repo.settle(session, now=hour + timedelta(hours=1, minutes=6))
    assert len(first) == 1 and second == []

    body = exchange.client.get(
        f"/leases/{lease_id}/outcomes", headers=exchange.as_("buyer_a")
    ).json()
    (h,) = body["hours"]
    assert (h["calls"], h["ok"], h["ttft_ok"]) == (10, 8, 8)
    assert h["attainment"] == 0.8 and h["settled"] is True
    assert h["credit_bps"] == 1000  # 80 % < 90 %: a miss, not a severe one
    assert h["credit_fen"] == h["rent_fen"] * 1000 // 10_000 > 0
    assert h["output_tokens"] == 100 and h["mean_ttft_ms"] == (8 * 50 + 2 * 500) / 10
    with db.read() as session:
        balances = repo.credits_balance(session)
    assert balances == {"seller:acme-dc": -h["credit_fen"], "buyer:alpha-ai": h["credit_fen"]}
    # another buyer sees nothing of it
    assert (
        exchange.client.get(
            f"/leases/{lease_id}/outcomes", headers=exchange.as_("buyer_b")
        ).status_code
        == 404
    )
