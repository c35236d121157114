"""The exchange clears the market by itself once per period."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from suanli.api.scheduler import clear_if_due, period_name
from suanli.app import create_app
from suanli.store import Database, create_key
from tests.conftest import in_process


def _order(side: str, price: float, offer_id: int | None = None) -> dict[str, object]:
    start = float(int(time.time() / 3600))
    return {"side": side, "gpu": "H100", "hub": "zhongwei", "pricing": "on-demand",
            "start_h": start, "end_h": start + 4, "price_cny_per_gpu_hour": price,
            "quantity_gpus": 8, **({"offer_id": offer_id} if offer_id else {})}  # fmt: skip


def _offer(client: httpx.Client, seller: str) -> int:
    body = {"site": "zhongwei", "gpu": "H100", "count": 8, "price_cny_per_gpu_hour": 8.0}
    r = client.post("/offers", json=body, headers={"Authorization": f"Bearer {seller}"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


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
        offer = _offer(client, seller)
        for key, order in ((seller, _order("ask", 8.0, offer)), (buyer, _order("bid", 12.0))):
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


def test_one_round_per_period_however_often_it_is_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    seller, buyer = _keys(url)
    app = create_app(url)  # no background loop: rounds are driven by hand here
    with in_process(app) as client:
        assert clear_if_due(app, "every-60s:1") == 0  # an empty book still has its round
        assert clear_if_due(app, "every-60s:1") is None  # this period already cleared
        offer = _offer(client, seller)
        for key, order in ((seller, _order("ask", 8.0, offer)), (buyer, _order("bid", 12.0))):
            client.post("/market/orders", json=order, headers={"Authorization": f"Bearer {key}"})
        assert clear_if_due(app, "every-60s:1") is None  # still the same period: no round
        assert clear_if_due(app, "every-60s:2") == 1
    assert period_name(60, 125.0) == "every-60s:2"
