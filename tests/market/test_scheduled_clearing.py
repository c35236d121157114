"""The exchange clears the market by itself once per period."""

from __future__ import annotations

import time
from pathlib import Path

from suanli.api.app import create_app
from suanli.api.scheduler import clear_if_due
from suanli.store import Database, create_key
from tests.conftest import in_process


def _order(side: str, price: float) -> dict[str, object]:
    start = float(int(time.time() / 3600))
    return {"side": side, "gpu": "H100", "hub": "zhongwei", "pricing": "on-demand",
            "start_h": start, "end_h": start + 4, "price_cny_per_gpu_hour": price,
            "quantity_gpus": 8}  # fmt: skip


def _keys(url: str) -> tuple[str, str]:
    db = Database.connect(url)
    try:
        with db.write() as session:
            seller = create_key(session, role="seller", name="acme-dc").secret
            buyer = create_key(session, role="buyer", name="alpha-ai").secret
    finally:
        db.dispose()
    return seller, buyer


def test_background_rounds_fill_crossing_orders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    seller, buyer = _keys(url)
    with in_process(create_app(url, clear_every_s=0.2)) as client:
        for key, order in ((seller, _order("ask", 8.0)), (buyer, _order("bid", 12.0))):
            r = client.post(
                "/market/orders", json=order, headers={"Authorization": f"Bearer {key}"}
            )
            assert r.status_code == 201, r.text
        deadline = time.monotonic() + 10
        fills: list[dict[str, object]] = []
        while time.monotonic() < deadline and not fills:
            time.sleep(0.1)
            fills = client.get(
                "/market/fills", headers={"Authorization": f"Bearer {buyer}"}
            ).json()["items"]
        assert len(fills) == 1 and fills[0]["gpus"] == 8


def test_a_round_is_skipped_when_empty_or_already_cleared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    seller, buyer = _keys(url)
    app = create_app(url)  # no background loop: rounds are driven by hand here
    with in_process(app) as client:
        assert clear_if_due(app, period_start_h=0.0) is None  # no resting orders
        for key, order in ((seller, _order("ask", 8.0)), (buyer, _order("bid", 6.0))):
            client.post("/market/orders", json=order, headers={"Authorization": f"Bearer {key}"})
        period = time.time() / 3600.0 - 1e-6
        assert clear_if_due(app, period_start_h=period) == 0  # orders rest, nothing crosses
        assert clear_if_due(app, period_start_h=period) is None  # this period already cleared
