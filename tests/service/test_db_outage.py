"""Database faults are 503 with Retry-After on every path (the order fast path included),
and a pooled connection the server dropped is replaced, not handed to a request."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from suanli.bench.server import ServerProcess
from suanli.store import Database, create_key
from suanli.store.offers import create_offer
from tests.conftest import Exchange

BUYERS = 24
SENDERS = 6


def _outage(*_args: Any, **_kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@pytest.mark.parametrize("path", ["/orders", "/offers"])
def test_outage_during_key_lookup_is_503(
    sqlite_exchange: Exchange, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The fast order path looks the key up before FastAPI's handlers run: still a 503."""
    ex = sqlite_exchange
    ex.app.state.key_cache.clear()
    import suanli.api.deps as deps

    monkeypatch.setattr(deps, "caller_for_key", _outage)
    body = {"items": [{"offer_id": 1, "gpus": 1}]}
    response = ex.client.post(path, json=body, headers=ex.as_("buyer_a"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "unavailable"


def _terminate(admin: Any, application_name: str) -> int:
    with admin.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": application_name},
        ).scalar_one()
    return int(killed)


@pytest.mark.slow
@pytest.mark.postgres
def test_terminated_backends_during_orders_give_only_201_409_503(pg_url: str) -> None:
    name = "suanli-outage-" + uuid.uuid4().hex[:8]
    url = f"{pg_url}&application_name={name}"
    db = Database.connect(url)
    with db.write() as session:
        seller = create_key(session, role="seller", name="acme")
        buyers = [create_key(session, role="buyer", name=f"b{i}") for i in range(BUYERS)]
        offer_id = create_offer(
            session,
            seller.tenant,
            {"site": "zhongwei", "gpu": "H100", "count": 100_000, "price_cny_per_gpu_hour": 9},
        ).id
    db.dispose()
    admin = create_engine(Database.connect(pg_url, migrate=False).url)
    statuses: list[int] = []
    missing_retry_after = 0
    lock = threading.Lock()
    stop = threading.Event()

    def send(client: httpx.Client, first: int) -> None:
        nonlocal missing_retry_after
        i = first
        while not stop.is_set():
            buyer = buyers[i % BUYERS]  # many keys: look-ups miss the cache and hit the DB
            i += SENDERS
            response = client.post(
                "/orders",
                json={"items": [{"offer_id": offer_id, "gpus": 1}]},
                headers={"Authorization": f"Bearer {buyer.secret}"},
            )
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 503 and "retry-after" not in response.headers:
                    missing_retry_after += 1

    with (
        ServerProcess(url, workers=2) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        # Pre-ping: kill every idle pooled connection, then order: served, not failed.
        warm = client.post(
            "/orders",
            json={"items": [{"offer_id": offer_id, "gpus": 1}]},
            headers={"Authorization": f"Bearer {buyers[0].secret}"},
        )
        assert warm.status_code == 201, warm.text
        assert _terminate(admin, name) > 0
        after = client.post(
            "/orders",
            json={"items": [{"offer_id": offer_id, "gpus": 1}]},
            headers={"Authorization": f"Bearer {buyers[1].secret}"},
        )
        assert after.status_code == 201, after.text
        # Under load: terminate the server's backends again and again.
        threads = [
            threading.Thread(target=send, args=(client, k), daemon=True) for k in range(SENDERS)
        ]
        for t in threads:
            t.start()
        killed = 0
        for _ in range(12):
            time.sleep(0.15)
            killed += _terminate(admin, name)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    admin.dispose()
    assert killed > 0
    assert statuses.count(201) > 0
    assert set(statuses) <= {201, 409, 503}, sorted(set(statuses))
    assert missing_retry_after == 0
