"""The race: 64 buyers at once, each reserving 8 GPUs of one 100-GPU offer, against a real
``suanli serve`` with 2 worker processes on loopback. Exactly 12 win, 4 GPUs stay free,
nothing is oversold. Then one order retried 16 times at once under one Idempotency-Key
creates exactly one order."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import func, select

from suanli.bench.server import ServerProcess
from suanli.store import Database, create_key
from suanli.store.models import Lease, Offer, Order
from suanli.store.offers import create_offer

BUYERS = 64


@pytest.mark.slow
def test_64_buyers_racing_for_one_offer_never_oversell(db_url: str) -> None:
    db = Database.connect(db_url)
    with db.write() as session:
        seller = create_key(session, role="seller", name="acme")
        buyers = [create_key(session, role="buyer", name=f"buyer-{i}") for i in range(BUYERS)]
        offer = create_offer(
            session,
            seller.tenant,
            {"site": "zhongwei", "gpu": "H100", "count": 100, "price_cny_per_gpu_hour": 12},
        )
        offer_id = offer.id
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(BUYERS)

    def buy(secret: str, client: httpx.Client) -> None:
        start.wait(timeout=30)
        response = client.post(
            "/orders",
            json={"items": [{"offer_id": offer_id, "gpus": 8}]},
            headers={"Authorization": f"Bearer {secret}"},
        )
        with lock:
            statuses.append(response.status_code)

    limits = httpx.Limits(max_connections=BUYERS, max_keepalive_connections=BUYERS)
    with (
        ServerProcess(db_url, workers=2) as server,
        httpx.Client(base_url=server.url, timeout=30, limits=limits) as client,
    ):
        threads = [
            threading.Thread(target=buy, args=(b.secret, client), daemon=True) for b in buyers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        probe = client.get(
            f"/offers/{offer_id}",
            headers={"Authorization": f"Bearer {buyers[0].secret}"},
        ).json()
        # The same order retried 16 times at once with one Idempotency-Key: one order.
        retries: list[httpx.Response] = []
        again = threading.Barrier(16)

        def retry() -> None:
            again.wait(timeout=30)
            response = client.post(
                "/orders",
                json={"items": [{"offer_id": offer_id, "gpus": 1}]},
                headers={
                    "Authorization": f"Bearer {buyers[1].secret}",
                    "Idempotency-Key": "one-order-please",
                },
            )
            with lock:
                retries.append(response)

        twins = [threading.Thread(target=retry, daemon=True) for _ in range(16)]
        for t in twins:
            t.start()
        for t in twins:
            t.join(timeout=60)

    assert sorted(set(statuses)) == [201, 409], statuses
    assert statuses.count(201) == 12
    assert statuses.count(409) == BUYERS - 12
    assert probe["available"] == 4
    assert [r.status_code for r in retries] == [201] * 16
    assert len({r.json()["id"] for r in retries}) == 1
    with db.read() as session:
        row = session.get(Offer, offer_id)
        assert row is not None and (row.count, row.available) == (100, 3)
        leased = session.scalar(select(func.sum(Lease.gpus)).where(Lease.offer_id == offer_id))
        assert leased == 97
        assert session.scalar(select(func.count()).select_from(Order)) == 13
    db.dispose()
