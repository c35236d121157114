"""Group commit on SQLite: orders that arrive together share a transaction, yet each
succeeds or fails on its own, never oversells, and replays by Idempotency-Key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from suanli.app import create_app
from suanli.store import create_key
from suanli.store.offers import insert_offer


def _setup(tmp_path: Path) -> tuple[Any, str, int]:
    app = create_app(f"sqlite:///{tmp_path / 'group.db'}")
    with app.state.db.write() as session:
        buyer = create_key(session, role="buyer", name="buyer")
        seller = create_key(session, role="seller", name="seller")
        offer = insert_offer(
            session,
            seller.tenant,
            {"site": "zhongwei", "gpu": "H100", "count": 20, "price_cny_per_gpu_hour": 10.0},
        )
    return app, buyer.secret, int(offer["id"])


Burst = list[tuple[dict[str, Any], dict[str, str]]]


async def _burst(app: Any, secret: str, bodies: Burst) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(
                        "/orders", json=body, headers={"Authorization": f"Bearer {secret}", **h}
                    )
                    for body, h in bodies
                )
            )
        )


def test_a_burst_of_orders_never_oversells_and_fails_one_by_one(tmp_path: Path) -> None:
    app, secret, offer_id = _setup(tmp_path)
    # 12 orders of 3 GPUs for 20 GPUs (6 fit), plus one for an unknown offer (404) and
    # one spanning the offer and the unknown one (all or nothing: 404, nothing reserved).
    bodies: Burst = [({"items": [{"offer_id": offer_id, "gpus": 3}]}, {}) for _ in range(12)]
    bodies.append(({"items": [{"offer_id": 999_999, "gpus": 1}]}, {}))
    bodies.append(
        ({"items": [{"offer_id": offer_id, "gpus": 1}, {"offer_id": 999_999, "gpus": 1}]}, {})
    )
    responses = asyncio.run(_burst(app, secret, bodies))
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 6
    assert codes.count(409) == 6
    assert codes[-2:] == [404, 404]
    assert all(r.json()["leases"][0]["gpus"] == 3 for r in responses if r.status_code == 201)
    with app.state.db.read() as session:
        from sqlalchemy import text

        available = session.execute(
            text("SELECT available FROM offers WHERE id = :i"), {"i": offer_id}
        ).scalar_one()
        leased = session.execute(text("SELECT COALESCE(SUM(gpus), 0) FROM leases")).scalar_one()
    assert available == 2
    assert leased == 18
    app.state.db.dispose()


def test_twins_in_one_batch_create_one_order(tmp_path: Path) -> None:
    app, secret, offer_id = _setup(tmp_path)
    body = {"items": [{"offer_id": offer_id, "gpus": 2}]}
    twins = [(body, {"Idempotency-Key": "same"}) for _ in range(5)]
    other = ({"items": [{"offer_id": offer_id, "gpus": 1}]}, {"Idempotency-Key": "same"})
    responses = asyncio.run(_burst(app, secret, [*twins, other]))
    ids = {r.json()["id"] for r in responses[:5]}
    assert [r.status_code for r in responses[:5]] == [201] * 5
    assert len(ids) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses[:5]) == 4
    assert responses[5].status_code == 422  # the same key for a different request
    with app.state.db.read() as session:
        from sqlalchemy import text

        assert session.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
    app.state.db.dispose()
