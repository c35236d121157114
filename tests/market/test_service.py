"""The market through HTTP: roles, clearing, fills and leases per tenant, balances, index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from suanli.app import create_app
from tests.conftest import Exchange as Market
from tests.conftest import in_process, list_offer, make_keys


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
    offer = ex.offer_id(count=16)
    r = c.post("/market/orders", json=_order("ask", 8.0, 8, offer_id=offer),
               headers=ex.as_("seller_a"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["offer_id"] == offer and r.json()["remaining_gpus"] == 8
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
    assert c.get("/market/orders", headers=ex.as_("operator")).json()["total"] == 0

    fills = c.get("/market/fills", headers=ex.as_("buyer_a")).json()
    assert fills["total"] == 1 and fills["items"][0]["gpus"] == 8
    assert fills["items"][0]["site"] == "zhongwei" and fills["items"][0]["offer_id"] == offer
    assert c.get("/market/fills", headers=ex.as_("buyer_b")).json()["total"] == 0
    assert c.get("/market/fills", headers=ex.as_("seller_a")).json()["total"] == 1
    # one fills table, one leases table: the auction's fill is in /fills and /leases too
    assert c.get("/fills", headers=ex.as_("buyer_a")).json()["items"] == fills["items"]
    leases = c.get("/leases", headers=ex.as_("buyer_a")).json()["items"]
    assert len(leases) == 1 and leases[0]["status"] == "pending"
    lease_id = leases[0]["id"]
    assert c.post(f"/market/leases/{lease_id}/activate",
                  headers=ex.as_("buyer_b")).status_code == 404  # fmt: skip
    r = c.post(f"/market/leases/{lease_id}/activate", headers=ex.as_("buyer_a"))
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert c.post("/market/meter", headers=ex.as_("operator")).status_code == 200
    r = c.post(f"/market/leases/{lease_id}/cancel", headers=ex.as_("buyer_a"))
    assert r.json()["status"] == "cancelled"
    offer_now = c.get(f"/offers/{offer}", headers=ex.as_("seller_a")).json()
    assert offer_now["available"] == 16  # the lease's GPUs went back to the offer
    assert c.get("/market/rounds", headers=ex.as_("buyer_a")).status_code == 403
    rounds = c.get("/market/rounds", headers=ex.as_("operator")).json()
    assert rounds["total"] == 1 and rounds["items"][0]["fills"] == 1
    ops = c.get("/market/balances", headers=ex.as_("operator")).json()
    assert ops["total_fen"] == 0
    mine = c.get("/market/balances", headers=ex.as_("buyer_a")).json()["items"]
    assert {row["account"] for row in mine} <= {"buyer:alpha-ai"}

    index = c.get("/api/v1/index", params={"gpu": "H100", "hub": "west", "period": "hour"})
    assert index.status_code == 200
    body = index.json()
    assert body["gpu"] == "H100-SXM" and body["latest_cny_per_gpu_hour"] == 10.0
    assert body["window_days"] == 7
    assert c.get("/index", params={"gpu": "Z9000"}).status_code in (404, 422)


def test_an_ask_reserves_its_offer_and_never_oversells(market: Market) -> None:
    """An ask takes GPUs out of its offer's ``available``: it cannot ask for more than is
    free, a direct order cannot take what the ask holds, and cancelling gives them back."""
    ex, c = market, market.client
    offer = ex.offer_id(count=10)
    seller = ex.as_("seller_a")
    too_many = c.post("/market/orders", json=_order("ask", 8.0, 11, offer_id=offer), headers=seller)
    assert too_many.status_code == 409, too_many.text
    assert too_many.json()["context"]["field"] == "quantity_gpus"
    assert c.post("/market/orders", json=_order("ask", 8.0, 4),
                  headers=seller).json()["context"]["field"] == "offer_id"  # fmt: skip
    other = ex.offer_id(count=4, who="seller_a")
    foreign = c.post("/market/orders", json=_order("ask", 8.0, 1, offer_id=other),
                     headers=ex.as_("buyer_a"))  # fmt: skip
    assert foreign.status_code == 403
    wrong_gpu = c.post("/market/orders", json=_order("ask", 8.0, 1, offer_id=offer, gpu="H20"),
                       headers=seller)  # fmt: skip
    assert wrong_gpu.status_code == 422 and wrong_gpu.json()["context"]["field"] == "gpu"

    ask = c.post("/market/orders", json=_order("ask", 8.0, 6, offer_id=offer), headers=seller)
    assert ask.status_code == 201, ask.text
    state = c.get(f"/offers/{offer}", headers=seller).json()
    assert state["available"] == 4
    direct = c.post("/orders", json={"items": [{"offer_id": offer, "gpus": 5}]},
                    headers=ex.as_("buyer_b"))  # fmt: skip
    assert direct.status_code == 409  # only 4 are free: the ask holds 6
    direct = c.post("/orders", json={"items": [{"offer_id": offer, "gpus": 4}]},
                    headers=ex.as_("buyer_b"))  # fmt: skip
    assert direct.status_code == 201
    c.post("/market/orders", json=_order("bid", 9.0, 10), headers=ex.as_("buyer_a"))
    assert c.post("/market/clear", headers=ex.as_("operator")).json()["volume_gpus"] == 6
    sold = sum(
        lease["gpus"]
        for lease in c.get("/leases", headers=ex.as_("operator")).json()["items"]
        if lease["offer_id"] == offer
    )
    assert sold == 10 and c.get(f"/offers/{offer}", headers=seller).json()["available"] == 0

    # a resting ask's GPUs come back when it is cancelled
    third = ex.offer_id(count=8)
    ask_id = c.post("/market/orders", json=_order("ask", 20.0, 8, offer_id=third),
                    headers=seller).json()["id"]  # fmt: skip
    assert c.get(f"/offers/{third}", headers=seller).json()["available"] == 0
    assert c.delete(f"/market/orders/{ask_id}", headers=seller).status_code == 200
    assert c.get(f"/offers/{third}", headers=seller).json()["available"] == 8
    assert c.delete(f"/market/orders/{ask_id}", headers=seller).status_code == 409


def test_an_auction_fill_shows_in_utilization_and_the_index(market: Market) -> None:
    ex, c = market, market.client
    offer = ex.offer_id(count=40)
    before = c.get("/web/api/utilization", params={"hours": 24}).json()["now"]
    ningxia = next(h for h in before if h["hub"] == "Ningxia")
    assert ningxia["gpus_leased"] == 0
    c.post("/market/orders", json=_order("ask", 7.0, 30, offer_id=offer),
           headers=ex.as_("seller_a"))  # fmt: skip
    c.post("/market/orders", json=_order("bid", 9.0, 30), headers=ex.as_("buyer_a"))
    c.post("/market/clear", headers=ex.as_("operator"))
    time.sleep(5.1)  # the dashboard caches aggregates for 5 s
    after = c.get("/web/api/utilization", params={"hours": 24}).json()["now"]
    ningxia = next(h for h in after if h["hub"] == "Ningxia")
    assert ningxia["gpus_leased"] == 30 and ningxia["utilization"] == 30 / 40
    web_index = c.get("/web/api/index", params={"gpu": "H100", "hub": "Ningxia"}).json()
    api_index = c.get("/api/v1/index", params={"gpu": "H100", "hub": "Ningxia"}).json()
    assert web_index["points"][-1]["v"] == api_index["latest_cny_per_gpu_hour"] == 8.0
    assert web_index["window_days"] == api_index["window_days"]
    ticker = c.get("/web/api/ticker").json()
    assert ticker["auction_fills_total"] == 1 and ticker["auction_rounds"] == 1


def test_market_state_survives_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    app = create_app(url)
    headers = make_keys(app)[0]
    with in_process(app) as c:
        offer = list_offer(c, headers["seller_a"])
        c.post("/market/orders", json=_order("ask", 8.0, 4, offer_id=offer),
               headers=headers["seller_a"])  # fmt: skip
        c.post("/market/orders", json=_order("bid", 9.0, 4), headers=headers["buyer_a"])
        c.post("/market/clear", headers=headers["operator"])
    with in_process(create_app(url)) as c:
        fills = c.get("/market/fills", headers=headers["operator"]).json()
        assert fills["total"] == 1 and fills["items"][0]["price_cny_per_gpu_hour"] == 8.5


def test_two_workers_share_one_market(tmp_path: Path) -> None:
    """Two apps (as two worker processes) on one database see one market: the book is in
    the database, so what one writes the other reads."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    app_a, app_b = create_app(url), create_app(url)
    headers = make_keys(app_a)[0]
    with in_process(app_a) as a, in_process(app_b) as b:
        offer = list_offer(a, headers["seller_a"], count=100)

        def post(k: int) -> int:
            client = a if k % 2 else b
            side, who = ("ask", "seller_a") if k % 4 < 2 else ("bid", "buyer_a")
            extra = {"offer_id": offer} if side == "ask" else {}
            r = client.post("/market/orders", json=_order(side, 8.0 + k % 3, 1 + k % 4, **extra),
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
        seen_a = a.get("/market/orders", params={"limit": 500, "status": "filled"},
                       headers=headers["operator"])  # fmt: skip
        seen_b = b.get("/market/orders", params={"limit": 500, "status": "filled"},
                       headers=headers["operator"])  # fmt: skip
        assert seen_a.json() == seen_b.json() and seen_a.json()["total"] > 0
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
    offer = market.offer_id()
    c.post("/market/orders", json=_order("ask", 7.0, 4, offer_id=offer),
           headers=market.as_("seller_a"))  # fmt: skip
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
