"""End-to-end: the dashboard in headless Chromium against a real server on loopback.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them, once, as
root) and the ``selenium`` package; skipped with a message otherwise. Screenshots go to
``$SUANLI_SCREENSHOT_DIR`` (else a pytest temp folder) and are listed in the test output.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
WAIT_S = 15


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium not found: run `make browser` (as root) first")
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="suanli-chromium-")
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    waiter = WebDriverWait(
        driver, WAIT_S, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    return waiter.until(condition, message)


def texts(driver: Any, selector: str) -> list[str]:
    """The visible text of every match, read in one script (tables re-render while live)."""
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);"
    return list(driver.execute_script(script, selector))


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def shot(driver: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver: Any, server: LiveServer, fragment: str = "#/market") -> None:
    driver.get(f"{server.url}/{fragment}")
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready"), "ready")


def use_key(driver: Any, secret: str, tenant: str) -> None:
    box = css(driver, "#key-input")[0]
    box.clear()
    box.send_keys(secret)
    css(driver, "#key-form button[type=submit]")[0].click()
    wait_for(driver, lambda d: tenant in texts(d, "#key-who")[0], f"the key of {tenant}")


def test_page_loads_with_map_and_price_chart_and_no_console_errors(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    browser.get("about:blank")
    console_errors(browser)  # drop anything from before
    open_page(browser, live_server)
    wait_for(browser, lambda d: css(d, "#map circle.site"), "site circles")
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#map circle.site')].flatMap((c) =>"
        " (c.dataset.site || c.dataset.cluster).split(' '))"
    )
    assert len(shown) == len(set(shown)) == 15, "every site once: alone or in a group"
    assert css(browser, "#map path.land"), "the China outline is drawn"
    assert len(css(browser, "#map path.ring")) == 4, "four latency rings"
    wait_for(browser, lambda d: css(d, "#index-chart path.series"), "a price index line")
    assert css(browser, "#index-chart text"), "chart axes are labelled"
    rows = wait_for(browser, lambda d: css(d, "#offers-table tbody tr[data-offer]"), "offers")
    assert len(rows) == 10
    assert css(browser, "#fills-table tbody tr[data-fill]")
    assert "public view" in texts(browser, "#key-who")[0]
    shot(browser, screenshot_dir, "01-market")
    assert console_errors(browser) == []


def test_latency_rings_follow_the_chosen_city(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    open_page(browser, live_server)
    before = css(browser, "#map path.ring")[0].get_attribute("d")
    Select(css(browser, "#map-city")[0]).select_by_value("chengdu")
    wait_for(
        browser,
        lambda d: (
            css(d, "#map path.ring") and css(d, "#map path.ring")[0].get_attribute("d") != before
        ),
        "rings redrawn around Chengdu",
    )
    assert css(browser, "#map circle.city.chosen")
    shot(browser, screenshot_dir, "02-rings-chengdu")


def test_offer_filter_narrows_the_table(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    open_page(browser, live_server)
    Select(css(browser, "#f-gpu")[0]).select_by_value("H100-SXM")
    css(browser, "#offer-filter button[type=submit]")[0].click()

    def only_h100(d: Any) -> bool:
        rows = texts(d, "#offers-table tbody tr[data-offer]")
        return len(rows) == 3 and all("H100-SXM" in r for r in rows)

    wait_for(browser, only_h100, "only the three H100 offers")
    assert "3 matching" in texts(browser, "#offers-count")[0]
    css(browser, "#offers-table th[data-sort=price] button")[0].click()  # asc -> desc
    wait_for(
        browser,
        lambda d: (
            css(d, "#offers-table th[data-sort=price]")[0].get_attribute("aria-sort")
            == "descending"
        ),
        "descending price",
    )
    rows = texts(browser, "#offers-table tbody tr[data-offer]")
    prices = [float(r.split("\t")[7].lstrip("¥").replace(",", "")) for r in rows]
    assert prices == sorted(prices, reverse=True)
    shot(browser, screenshot_dir, "03-offers-filtered")


def test_a_fill_made_through_the_api_appears_without_a_reload(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    open_page(browser, live_server)
    browser.execute_script("window.__suanliMarker = 'same page'")
    with live_server.client() as public:
        h200 = public.get("/web/api/offers", params={"gpu": "H200-SXM"}).json()["items"][0]
    with live_server.client("alice-ai") as alice:
        r = alice.post("/orders", json={"items": [{"offer_id": h200["id"], "gpus": 4}], "hours": 6})
        assert r.status_code == 201, r.text
    with live_server.client() as public:
        newest = public.get("/web/api/fills", params={"page_size": 1}).json()["items"][0]
    selector = f'#fills-table tbody tr[data-fill="{newest["id"]}"]'
    wait_for(browser, lambda d: css(d, selector), "the new fill in the table")
    assert "H200-SXM" in texts(browser, selector)[0]
    assert browser.execute_script("return window.__suanliMarker") == "same page"
    browser.execute_script("document.getElementById('offers-table').scrollIntoView()")
    shot(browser, screenshot_dir, "04-live-fill")


def test_a_buyer_cannot_see_another_buyers_request(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    with live_server.client("alice-ai") as alice:
        alices = alice.get("/web/api/requests").json()["items"][0]
    open_page(browser, live_server, "#/mine")
    use_key(browser, live_server.keys["alice-ai"], "alice-ai")
    wait_for(browser, lambda d: css(d, "#requests-table tbody tr[data-request]"), "alice's list")
    browser.get(f"{live_server.url}/#/request/{alices['id']}")
    wait_for(browser, lambda d: css(d, "#req-assign tbody td.num"), "alice's placement")
    wait_for(browser, lambda d: css(d, "#req-map circle.site"), "placement map")
    regions = texts(browser, "#req-regions tbody tr")
    assert any("Shanghai" in r for r in regions) and any("Beijing" in r for r in regions)
    shot(browser, screenshot_dir, "05-request-own")

    open_page(browser, live_server, "#/mine")
    use_key(browser, live_server.keys["bob-ai"], "bob-ai")

    def bobs_list(d: Any) -> list[str] | None:
        names = texts(d, "#requests-table tbody tr[data-request]")
        return names if names and "alice-chat" not in " ".join(names) else None

    names = wait_for(browser, bobs_list, "bob's own list")
    assert len(names) == 1
    browser.get(f"{live_server.url}/#/request/{alices['id']}")
    wait_for(browser, lambda d: "no request" in texts(d, "#req-body")[0], "a not-found message")
    assert css(browser, "#req-assign tbody td.num") == []
    assert "alice-chat" not in browser.page_source
    shot(browser, screenshot_dir, "06-request-denied")
    css(browser, "#key-clear")[0].click()


def test_operator_view_shows_utilization_by_hub(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    open_page(browser, live_server, "#/operator")
    wait_for(browser, lambda d: len(css(d, "#hubs-table tbody tr")) >= 5, "hub rows")
    wait_for(browser, lambda d: css(d, "#util-chart .series-group"), "utilization series")
    shot(browser, screenshot_dir, "07-operator")


def test_a_seller_sees_its_own_offers_only(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    open_page(browser, live_server, "#/mine")
    use_key(browser, live_server.keys["guizhou-dc"], "guizhou-dc")
    rows = wait_for(
        browser, lambda d: texts(d, "#mine-offers-table tbody tr[data-offer]"), "offers"
    )
    assert len(rows) == 5
    assert not any("Zhongwei" in r for r in rows)  # ningxia-dc's sites
    hidden = browser.execute_script("return document.getElementById('mine-requests').hidden")
    assert hidden  # sellers have no requests
    shot(browser, screenshot_dir, "08-seller-offers")
    css(browser, "#key-clear")[0].click()
