"""Several nodes, one exchange: two ``suanli serve`` processes on different ports sharing one
PostgreSQL database (a throw-away schema) sell no GPU twice and clear once per period."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from suanli.bench.server import ServerProcess
from suanli.store import Database, create_key
from suanli.store.db import resolve_database_url
from suanli.store.models import ClearingRoundRow, Lease, LedgerEntryRow, Offer
from suanli.store.offers import create_offer

PG_ENV = "SUANLI_TEST_DATABASE_URL"
BUYERS = 64


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the several-node tests (PostgreSQL)")
    schema = "suanli_n_" + uuid.uuid4().hex[:12]
    url = resolve_database_url(base)
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _race(
    a: httpx.Client, b: httpx.Client, offer_id: int, buyers: list[str], operator: str
) -> list[int]:
    """Every buyer orders 8 GPUs of the offer through node a or b while node b clears; the
    statuses of the orders, and the clearing's negated."""
    statuses: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(buyers) + 1)

    def buy(k: int) -> None:
        client = a if k % 2 else b
        gate.wait(timeout=60)
        response = client.post(
            "/orders", json={"items": [{"offer_id": offer_id, "gpus": 8}]},
            headers=_auth(buyers[k]),
        )  # fmt: skip
        with lock:
            statuses.append(response.status_code)

    def clear() -> None:
        gate.wait(timeout=60)
        response = b.post("/market/clear", headers=_auth(operator))
        with lock:
            statuses.append(-response.status_code)

    threads = [threading.Thread(target=buy, args=(k,), daemon=True) for k in range(len(buyers))]
    threads.append(threading.Thread(target=clear, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return statuses


@pytest.mark.slow
def test_two_nodes_never_sell_a_gpu_twice_and_the_ledger_balances(pg_url: str) -> None:
    """64 buyers split over two nodes each order 8 GPUs of one 100-GPU offer while the
    seller's 40-GPU ask on the same offer rests in the auction against a crossing bid and a
    clearing round runs on one node. Five times, on a fresh offer each time."""
    db = Database.connect(pg_url)
    with db.write() as session:
        seller = create_key(session, role="seller", name="acme")
        operator = create_key(session, role="operator", name="ops")
        bidder = create_key(session, role="buyer", name="auction-buyer")
        buyers = [create_key(session, role="buyer", name=f"buyer-{i}") for i in range(BUYERS)]
    limits = httpx.Limits(max_connections=BUYERS, max_keepalive_connections=BUYERS)
    with (
        ServerProcess(pg_url, clear_every_s=0) as node_a,
        ServerProcess(pg_url, clear_every_s=0) as node_b,
        httpx.Client(base_url=node_a.url, timeout=60, limits=limits) as a,
        httpx.Client(base_url=node_b.url, timeout=60, limits=limits) as b,
    ):
        assert node_a.port != node_b.port
        for repeat in range(5):
            with db.write() as session:
                offer_id = create_offer(
                    session, seller.tenant,
                    {"site": "zhongwei", "gpu": "H100", "count": 100,
                     "price_cny_per_gpu_hour": 12},
                ).id  # fmt: skip
            start = float(int(time.time() / 3600))
            window = {"pricing": "on-demand", "start_h": start, "end_h": start + 4}
            ask = {**window, "side": "ask", "offer_id": offer_id, "quantity_gpus": 40,
                   "price_cny_per_gpu_hour": 8.0}  # fmt: skip
            r = a.post("/market/orders", json=ask, headers=_auth(seller.secret))
            assert r.status_code == 201, r.text
            bid = {**window, "side": "bid", "gpu": "H100", "hub": "zhongwei",
                   "quantity_gpus": 40, "price_cny_per_gpu_hour": 9.0}  # fmt: skip
            assert b.post("/market/orders", json=bid, headers=_auth(bidder.secret)).is_success

            statuses = _race(a, b, offer_id, [k.secret for k in buyers], operator.secret)
            assert statuses.count(-200) == 1, statuses
            # The ask held 40 GPUs before the race: 60 were free for direct orders.
            assert statuses.count(201) == 7 and statuses.count(409) == BUYERS - 7, statuses

            with db.read() as session:
                offer = session.get(Offer, offer_id)
                assert offer is not None
                count, free, held = offer.count, offer.available, offer.reserved
                sold = int(
                    session.scalar(
                        select(func.coalesce(func.sum(Lease.gpus), 0)).where(
                            Lease.offer_id == offer_id, Lease.status.in_(("pending", "active"))
                        )
                    )
                    or 0
                )
                kinds = dict(
                    session.execute(
                        select(Lease.kind, func.sum(Lease.gpus))
                        .where(Lease.offer_id == offer_id)
                        .group_by(Lease.kind)
                    ).all()
                )
            assert sold <= 100, (repeat, sold)
            assert kinds == {"direct": 56, "auction": 40}, kinds
            assert free + held + sold == count == 100

            # The fill made through node B shows on node A's dashboard at its next poll.
            ticker_a, ticker_b = a.get("/web/api/ticker").json(), b.get("/web/api/ticker").json()
            assert ticker_a == ticker_b and ticker_a["auction_fills_total"] == repeat + 1

            # Activate the auction lease on one node, meter on the other, release on the first.
            leases = a.get("/market/leases", headers=_auth(bidder.secret)).json()["items"]
            pending = [x for x in leases if x["status"] == "pending"]
            assert len(pending) == 1 and pending[0]["offer_id"] == offer_id
            lease_id = pending[0]["id"]
            r = a.post(f"/market/leases/{lease_id}/activate", headers=_auth(bidder.secret))
            assert r.status_code == 200, r.text
            time.sleep(0.05)
            assert b.post("/market/meter", headers=_auth(operator.secret)).is_success
            assert a.post(f"/leases/{lease_id}/release", headers=_auth(bidder.secret)).is_success
            seen = b.get("/market/balances", headers=_auth(operator.secret)).json()
            assert seen["total_fen"] == 0

    with db.read() as session:
        assert session.scalar(select(func.sum(LedgerEntryRow.amount_fen))) == 0
        assert (session.scalar(select(func.count(LedgerEntryRow.id))) or 0) > 0
    db.dispose()


@pytest.mark.slow
def test_two_nodes_clearing_every_2_s_run_one_round_per_period(pg_url: str) -> None:
    """Both nodes run the periodic loop; each 2-second period has exactly one round in the
    database, for at least 10 consecutive periods."""
    with ServerProcess(pg_url, clear_every_s=2) as one, ServerProcess(pg_url, clear_every_s=2):
        first = time.time()
        time.sleep(2 * 11 + 1)
        assert httpx.get(one.url + "/healthz").status_code == 200
    db = Database.connect(pg_url)
    with db.read() as session:
        rows = session.execute(
            select(ClearingRoundRow.period, func.count(ClearingRoundRow.id))
            .where(ClearingRoundRow.period.like("every-2s:%"))
            .group_by(ClearingRoundRow.period)
        ).all()
    db.dispose()
    per_period = {int(period.split(":")[1]): count for period, count in rows}
    assert all(count == 1 for count in per_period.values()), per_period
    # Every whole period both nodes were up for has its round: no gap, none doubled.
    inside = [p for p in per_period if p > first // 2]
    span = range(min(inside), max(inside) + 1)
    assert len(span) >= 10 and all(p in per_period for p in span), sorted(per_period)
