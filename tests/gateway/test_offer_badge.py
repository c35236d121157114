"""An offer's badge tells the seller's own probe record from what the exchange measured
serving traffic on its leases (emulated replicas never count)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanli.app import create_app
from suanli.gateway.outcomes import Aggregator, CallRecord
from suanli.store import create_key
from suanli.store.gateway import add_minutes


def _call(lease_id: int, *, ttft_ms: float, ok: bool, emulated: bool) -> CallRecord:
    return CallRecord(
        lease_id=lease_id,
        replica_id=1 if emulated else 2,
        region="Shanghai",
        at_s=time.time(),
        streamed=True,
        failed=False,
        ttft_ms=ttft_ms,
        e2e_ms=ttft_ms + 9 * 20.0,
        input_tokens=100,
        output_tokens=10,
        emulated=emulated,
        ttft_ok=ok,
        tpot_ok=True,
    )


def test_badge_shows_measured_figures_from_real_replicas_only(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}")
    with app.state.db.write() as session:
        seller = create_key(session, role="seller", name="acme").secret
        buyer = create_key(session, role="buyer", name="alpha").secret
    auth = {w: {"Authorization": f"Bearer {k}"} for w, k in (("s", seller), ("b", buyer))}
    with TestClient(app) as client:
        offer = client.post(
            "/offers",
            json={"site": "wuhu", "gpu": "H100", "count": 8, "price_cny_per_gpu_hour": 12.0},
            headers=auth["s"],
        ).json()["id"]
        lease = client.post(
            "/orders", json={"items": [{"offer_id": offer, "gpus": 2}]}, headers=auth["b"]
        ).json()["leases"][0]["id"]
        badge = client.get(f"/offers/{offer}/verification", headers=auth["b"]).json()
        assert badge["evidence"] == [] and badge["measured"] is None

        agg = Aggregator()
        for _ in range(5):  # an emulator's calls: not evidence about the seller
            agg.add(_call(lease, ttft_ms=5.0, ok=True, emulated=True))
        with app.state.db.write() as session:
            add_minutes(session, agg.drain())
        badge = client.get(f"/offers/{offer}/verification", headers=auth["b"]).json()
        assert badge["measured"] is None

        for ttft, ok in ((100.0, True), (300.0, False), (200.0, True), (400.0, True)):
            agg.add(_call(lease, ttft_ms=ttft, ok=ok, emulated=False))
        with app.state.db.write() as session:
            add_minutes(session, agg.drain())
        badge = client.get(f"/offers/{offer}/verification", headers=auth["b"]).json()
        page = client.get(f"/web/api/offers/{offer}").json()  # the dashboard's offer page
    assert page["measured"]["calls"] == 4 and page["measured"]["attainment"] == 0.75
    assert page["measured"]["since"].endswith("Z")
    assert badge["evidence"] == ["performance measured by the exchange"]
    assert badge["verified"] is False  # no probe record from the seller
    measured = badge["measured"]
    assert measured["calls"] == 4
    assert measured["attainment"] == 0.75
    assert measured["mean_ttft_ms"] == 250.0
    assert measured["mean_tpot_ms"] == 20.0
    assert measured["output_tokens"] == 40
