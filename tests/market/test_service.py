"""The market through HTTP: roles, clearing, fills and leases per tenant, balances, index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from suanli.api.app import create_app
from tests.conftest import in_process
from tests.market.conftest import Market, keys_for


def _window() -> tuple[float, float]:
    start = float(int(time.time() / 3600))
    return start, start + 4


def _order(side: str, price: float, qty: int, **extra: object) -> dict[str, object]:
    start, end = _window()
    return {"side": side, "gpu": "H100", "hub": "zhongwei", "pricing": "on-demand",
            "start_h": start, "end_h": end, "price_cny_per_gpu_hour": price,
            "quantity_gpus": qty, **extra}  # fmt: skip


def test_market_round_trip(market: Market) -> None:
    ex = market
    c = ex.client
    r = c.post("/market/orders", json=_order("ask", 8.0, 8), headers=ex.as_("seller_a"))
    assert r.status_code == 201, r.text
    assert c.post("/market/orders", json=_order("ask", 8.0, 8),
                  headers=ex.as_("buyer_a")).status_code == 403  # fmt: skip
    r = c.post("/market/orders", json=_order("bid", 12.0, 8, all_or_nothing=True),
               headers=ex.as_("buyer_a", **{"Idempotency-Key": "k1"}))  # fmt: skip
    assert r.status_code == 201, r.text
    again = c.post("/market/orders", json=_order("bid", 12.0, 8, all_or_nothing=True),
                   headers=ex.as_("buyer_a", **{"Idempotency-Key": "k1"}))  # fmt: skip
    assert again.json()["id"] == r.json()["id"]
    assert c.get("/market/orders", headers=ex.as_("operator")).json()["total"] == 2
    assert c.get("/market/orders", headers=ex.as_("buyer_b")).json()["total"] == 0
    bad = c.post("/market/orders", json=_order("bid", 12.0, 8, gpu="Z9000"),
                 headers=ex.as_("buyer_a"))  # fmt: skip
    assert bad.status_code == 422 and "gpu" in bad.text

    assert c.post("/market/clear", headers=ex.as_("buyer_a")).status_code == 403
    r = c.post("/market/clear", headers=ex.as_("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["fills"] == 1 and r.json()["instruments"][0]["price_cny_per_gpu_hour"] == 10

    fills = c.get("/market/fills", headers=ex.as_("buyer_a")).json()
    assert fills["total"] == 1 and fills["items"][0]["gpus"] == 8
    assert c.get("/market/fills", headers=ex.as_("buyer_b")).json()["total"] == 0
    assert c.get("/market/fills", headers=ex.as_("seller_a")).json()["total"] == 1

    leases = c.get("/market/leases", headers=ex.as_("buyer_a")).json()["items"]
    lease_id = leases[0]["id"]
    assert c.post(f"/market/leases/{lease_id}/activate",
                  headers=ex.as_("buyer_b")).status_code == 404  # fmt: skip
    r = c.post(f"/market/leases/{lease_id}/activate", headers=ex.as_("buyer_a"))
    assert r.status_code == 200 and r.json()["state"] == "active"
    r = c.post(f"/market/leases/{lease_id}/cancel", headers=ex.as_("buyer_a"))
    assert r.json()["state"] == "cancelled"
    events = c.get("/market/events", headers=ex.as_("operator")).json()
    assert [e["kind"] for e in events["items"]][:3] == ["place_order", "place_order", "clear"]
    assert c.get("/market/events", headers=ex.as_("buyer_a")).status_code == 403
    ops = c.get("/market/balances", headers=ex.as_("operator")).json()
    assert ops["total_fen"] == 0
    mine = c.get("/market/balances", headers=ex.as_("buyer_a")).json()["balances_cny"]
    assert set(mine) == {"buyer:alpha-ai"}

    index = c.get("/api/v1/index", params={"gpu": "H100", "hub": "west", "period": "hour"})
    assert index.status_code == 200
    body = index.json()
    assert body["gpu"] == "H100-SXM" and body["latest_cny_per_gpu_hour"] == 10.0
    assert c.get("/index", params={"gpu": "Z9000"}).status_code in (404, 422)


def test_market_state_survives_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    app = create_app(url)
    headers = keys_for(app)
    with in_process(app) as c:
        c.post("/market/orders", json=_order("ask", 8.0, 4), headers=headers["seller_a"])
        c.post("/market/orders", json=_order("bid", 9.0, 4), headers=headers["buyer_a"])
        c.post("/market/clear", headers=headers["operator"])
    with in_process(create_app(url)) as c:
        fills = c.get("/market/fills", headers=headers["operator"]).json()
        assert fills["total"] == 1 and fills["items"][0]["price_cny_per_gpu_hour"] == 8.5


def test_two_workers_share_one_market(tmp_path: Path) -> None:
    """Two apps (as two worker processes) on one database see one market: each write
    catches up on the other's events first, and concurrent writes serialise."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    app_a, app_b = create_app(url), create_app(url)
    headers = keys_for(app_a)
    with in_process(app_a) as a, in_process(app_b) as b:

        def post(k: int) -> int:
            client = a if k % 2 else b
            side, who = ("ask", "seller_a") if k % 4 < 2 else ("bid", "buyer_a")
            r = client.post("/market/orders", json=_order(side, 8.0 + k % 3, 1 + k % 4),
                            headers=headers[who])  # fmt: skip
            return r.status_code

        # One request per app first: pydantic builds some validators lazily, and that first
        # build is not safe from 8 threads at once (a warning, so an error under pytest).
        for client in (a, b):
            warm = client.post("/market/orders", json={}, headers=headers["buyer_a"])
            assert warm.status_code == 422
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(post, range(32)))
        assert codes == [201] * 32
        assert a.post("/market/clear", headers=headers["operator"]).status_code == 200
        seen_a = a.get("/market/events", params={"limit": 500}, headers=headers["operator"])
        seen_b = b.get("/market/events", params={"limit": 500}, headers=headers["operator"])
        assert seen_a.json() == seen_b.json() and seen_a.json()["total"] == 33
        fills_a = a.get("/market/fills", params={"limit": 500}, headers=headers["operator"])
        fills_b = b.get("/market/fills", params={"limit": 500}, headers=headers["operator"])
        assert fills_a.json() == fills_b.json() and fills_a.json()["total"] > 0


def test_index_cli_reads_a_running_exchange(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from suanli.cli import remote
    from suanli.cli.main import app
    from suanli.client import InProcessTransport

    c = market.client
    c.post("/market/orders", json=_order("ask", 7.0, 4), headers=market.as_("seller_a"))
    c.post("/market/orders", json=_order("bid", 9.0, 4), headers=market.as_("buyer_a"))
    c.post("/market/clear", headers=market.as_("operator"))

    transport = InProcessTransport(create_app(market.url))  # a second node on the same data
    monkeypatch.setattr(remote, "transport", transport)
    runner = CliRunner()
    args = ["index", "--gpu", "H100", "--hub", "Ningxia", "--url", "http://exchange.test"]
    try:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["hub"] == "Ningxia" and doc["latest_cny_per_gpu_hour"] == 8.0
        table = runner.invoke(app, args)
        assert table.exit_code == 0 and "H100-SXM" in table.stdout
        bad = runner.invoke(
            app, ["index", "--gpu", "H100", "--pricing", "cheap", "--url", "http://exchange.test"]
        )
        assert bad.exit_code == 2 and "error:" in bad.output
    finally:
        transport.close()
