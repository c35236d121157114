"""End-to-end in headless Chromium: the account actions panel (``static/actions.js``) trades
through the exchange's API. A buyer quotes and orders a request after a confirmation that
shows the cost and sees the active lease with its SLO verdict; a seller reprices an offer;
the operator clears the market and revokes a key, which is then refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanli.store import create_key
from tests.web.conftest import LiveServer, build_app, serve
from tests.web.test_browser import browser, css, open_page, shot, texts, use_key, wait_for

__all__ = ["browser"]  # the Chromium fixture, shared with the dashboard's browser tests

pytestmark = pytest.mark.browser

SERVE = {
    "kind": "serve",
    "name": "chat for Shanghai",
    "model": "Qwen2.5-7B",
    "rate_per_s": 5,
    "prompt_tokens": 500,
    "output_tokens": 200,
    "ttft_ms": 800,
    "tpot_ms": 50,
    "regions": {"shanghai": 1},
}


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A fresh exchange of its own (these tests change it): a seller's offer, a buyer's
    unquoted request, an operator and a key to revoke."""
    app = build_app(f"sqlite:///{tmp_path_factory.mktemp('actions') / 'exchange.db'}")
    db = app.state.db
    keys: dict[str, str] = {}
    with db.write() as session:
        for role, name in (
            ("seller", "ningxia-dc"),
            ("buyer", "alice-ai"),
            ("operator", "exchange"),
            ("buyer", "mallory-ai"),
        ):
            keys[name] = create_key(session, role=role, name=name).secret
    with serve(app) as url:
        live = LiveServer(url, db, keys, {})
        with live.client("ningxia-dc") as seller:
            offer = {"site": "zhongwei", "gpu": "H100", "count": 64, "price_cny_per_gpu_hour": 12.5}
            assert seller.post("/offers", json=offer).status_code == 201
        with live.client("alice-ai") as buyer:
            assert buyer.post("/requests", json=SERVE).status_code == 201
        yield live


def _row_text(driver: Any, selector: str) -> str:
    found = texts(driver, selector)
    return found[0] if found else ""


def test_buyer_orders_a_quote_and_sees_the_active_lease_with_its_slo(
    browser: Any, exchange: LiveServer, screenshot_dir: Path
) -> None:
    open_page(browser, exchange, "#/mine")
    use_key(browser, exchange.keys["alice-ai"], "alice-ai")
    row = "#act-requests tr[data-request='1']"
    wait_for(browser, lambda d: css(d, f"{row} .act-quote"), "the request with a Quote button")
    assert "no quote yet" in _row_text(browser, row)
    css(browser, f"{row} .act-quote")[0].click()
    wait_for(browser, lambda d: css(d, f"{row} .act-order"), "an Order button after quoting")
    with exchange.client("alice-ai") as api:
        quote = api.get("/quotes").json()["items"][0]
    assert quote["feasible"]
    css(browser, f"{row} .act-order")[0].click()
    wait_for(
        browser, lambda d: d.find_element("id", "act-confirm").is_displayed(), "a confirmation"
    )
    confirm = _row_text(browser, "#act-confirm")
    assert f"{quote['cost_cny_per_hour']:.2f} CNY/h" in confirm
    assert f"{quote['cost_cny_per_hour'] * 24:.2f} CNY" in confirm  # for the default 24 h
    with exchange.client("alice-ai") as api:
        assert api.get("/orders").json()["total"] == 0  # nothing placed before confirming
    css(browser, "#act-confirm-order")[0].click()
    wait_for(
        browser,
        lambda d: "active" in texts(d, "#act-leases .act-lease-status"),
        "the active lease",
    )
    wait_for(browser, lambda d: "active" in _row_text(d, f"{row} .act-status"), "status active")
    wait_for(  # the page's own requests table re-reads it too
        browser,
        lambda d: "active" in _row_text(d, "#requests-table tr[data-request='1']"),
        "the requests table showing the request active",
    )
    slo = _row_text(browser, f"{row} .act-slo")
    assert "Shanghai: met (TTFT" in slo and "vs 800 ms" in slo
    assert "offers considered" in _row_text(browser, f"{row} .act-why")
    assert "Spending" in _row_text(browser, "#act-spend")
    with exchange.client("alice-ai") as api:
        (lease,) = api.get("/leases").json()["items"]
        assert lease["status"] == "active" and lease["hours"] == 24
    shot(browser, screenshot_dir, "actions-buyer")

    css(browser, "#act-leases .act-release")[0].click()
    wait_for(browser, lambda d: not css(d, "#act-leases .act-release"), "the lease released")
    with exchange.client("alice-ai") as api:
        assert api.get("/leases").json()["items"][0]["status"] != "active"


def test_seller_reprices_an_offer(browser: Any, exchange: LiveServer, screenshot_dir: Path) -> None:
    open_page(browser, exchange, "#/mine")
    use_key(browser, exchange.keys["ningxia-dc"], "ningxia-dc")
    row = "#act-offers tr[data-offer='1']"
    wait_for(browser, lambda d: css(d, f"{row} .act-price"), "the offer's price box")
    assert "Earning" in _row_text(browser, "#act-earnings")
    box = css(browser, f"{row} .act-price")[0]
    box.clear()
    box.send_keys("9.75")
    css(browser, f"{row} .act-reprice")[0].click()
    wait_for(browser, lambda d: _row_text(d, f"{row} .act-offer-price") == "9.75", "the new price")
    with exchange.client("ningxia-dc") as api:
        offer = api.get("/offers/1").json()
    assert offer["price_cny_per_gpu_hour"] == 9.75 and offer["version"] >= 2
    shot(browser, screenshot_dir, "actions-seller")

    form = "#act-offer-form"
    browser.execute_script(
        "const f = document.querySelector(arguments[0]);"
        "f.elements.site.value = 'guian'; f.elements.gpu.value = 'H20';",
        form,
    )
    css(browser, f"{form} input[name=count]")[0].clear()
    css(browser, f"{form} input[name=count]")[0].send_keys("16")
    css(browser, f"{form} input[name=price]")[0].send_keys("5.5")
    css(browser, f"{form} button[type=submit]")[0].click()
    listed = "#act-offers tr[data-offer='2']"
    wait_for(browser, lambda d: css(d, f"{listed} .act-withdraw"), "the new offer")
    with exchange.client("ningxia-dc") as api:
        new = api.get("/offers/2").json()
    assert (new["site"], new["gpu"], new["count"], new["seller"]) == (
        "guian",
        "H20",
        16,
        "ningxia-dc",
    )
    css(browser, f"{listed} .act-withdraw")[0].click()
    wait_for(browser, lambda d: not css(d, listed), "the offer withdrawn")
    with exchange.client("ningxia-dc") as api:
        assert api.get("/offers/2").json()["available"] == 0


def test_operator_clears_and_revokes_a_key_that_is_then_refused(
    browser: Any, exchange: LiveServer, screenshot_dir: Path
) -> None:
    victim = exchange.keys["mallory-ai"]
    victim_id = victim.split("_")[1]
    with httpx.Client(base_url=exchange.url, headers={"Authorization": f"Bearer {victim}"}) as c:
        assert c.get("/requests").status_code == 200
    open_page(browser, exchange, "#/mine")
    use_key(browser, exchange.keys["exchange"], "exchange")
    row = f"#act-keys tr[data-key='{victim_id}']"
    wait_for(browser, lambda d: css(d, f"{row} .act-revoke"), "the key's Revoke button")
    css(browser, "#act-clear")[0].click()
    wait_for(browser, lambda d: "Market cleared" in _row_text(d, "#act-message"), "a clearing")
    css(browser, f"{row} .act-revoke")[0].click()
    wait_for(browser, lambda d: _row_text(d, f"{row} .act-revoked") == "revoked", "revoked")
    with httpx.Client(base_url=exchange.url, headers={"Authorization": f"Bearer {victim}"}) as c:
        assert c.get("/requests").status_code == 401
    shot(browser, screenshot_dir, "actions-operator")
    css(browser, "#act-key-form input[name=name]")[0].send_keys("delta-ai")
    css(browser, "#act-key-form button[type=submit]")[0].click()
    wait_for(browser, lambda d: "sk_" in _row_text(d, "#act-new-key"), "the new key, shown once")
    made = _row_text(browser, "#act-new-key").rsplit(" ", 1)[-1]
    with httpx.Client(base_url=exchange.url, headers={"Authorization": f"Bearer {made}"}) as c:
        assert c.get("/web/api/whoami").json()["tenant"] == "delta-ai"
    box = css(browser, "#key-input")[0]
    box.clear()
    box.send_keys(victim)
    css(browser, "#key-form button[type=submit]")[0].click()
    wait_for(browser, lambda d: "not accepted" in _row_text(d, "#key-who"), "the key refused")
