"""The dashboard on a phone and a laptop, light and dark, in Chinese and English.

For each of 390x844 (a phone, mobile viewport) and 1440x900, light and dark colour schemes,
and a browser asking for ``zh-CN`` or ``en``: the page is no wider than the window, logs no
console error, shows site names in the asked language (Zhongwei as 中卫) and fill times in
Asia/Shanghai with the date. Screenshots go to ``$SUANLI_SCREENSHOT_DIR``.

An axe-core run (the npm package, installed at test time into a cache folder) reports no
serious or critical accessibility violation on the market view.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.web.conftest import LiveServer
from tests.web.test_browser import browser, console_errors, css, open_page, shot, texts, wait_for

__all__ = ["browser"]  # the module-scoped driver fixture, shared

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844, True), "laptop": (1440, 900, False)}
AXE_VERSION = "4.10.2"
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


def emulate(driver: Any, *, size: str, scheme: str, lang: str) -> None:
    width, height, mobile = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    agent = driver.execute_script("return navigator.userAgent")
    accept = "zh-CN,zh;q=0.9" if lang == "zh-CN" else "en-US,en;q=0.9"
    driver.execute_cdp_cmd(
        "Network.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": accept}
    )


def reset(driver: Any) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.execute_script("localStorage.clear()")


def shanghai(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "laptop"])
def test_market_view_fits_speaks_the_language_and_shows_beijing_time(
    browser: Any, live_server: LiveServer, screenshot_dir: Path, size: str, scheme: str, lang: str
) -> None:
    browser.get("about:blank")
    console_errors(browser)  # drop anything from before
    emulate(browser, size=size, scheme=scheme, lang=lang)
    try:
        browser.get(f"{live_server.url}/#/market")
        browser.execute_script("localStorage.clear()")
        open_page(browser, live_server)
        wait_for(browser, lambda d: len(css(d, "#map circle.site")) >= 5, "site circles")
        wait_for(browser, lambda d: css(d, "#offers-table tbody tr[data-offer]"), "offers")
        wait_for(browser, lambda d: css(d, "#fills-table tbody tr[data-fill]"), "fills")
        wait_for(browser, lambda d: css(d, "#index-chart path.series"), "the index line")

        assert browser.execute_script("return document.documentElement.lang") == lang
        width = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert width == SIZES[size][0]
        assert scroll <= width, f"page is {scroll} px wide in a {width} px window"

        scheme_now = browser.execute_script(
            "return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'"
        )
        assert scheme_now == scheme
        background = browser.execute_script(
            "return getComputedStyle(document.body).backgroundColor"
        )
        shade = sum(int(v) for v in re.findall(r"\d+", background)[:3])
        assert (shade < 200) if scheme == "dark" else (shade > 600), background

        with live_server.client() as public:
            offers = public.get("/web/api/offers", params={"site": "zhongwei"}).json()["items"]
            newest = public.get("/web/api/fills", params={"page_size": 1}).json()["items"][0]
        assert offers, "the seed lists offers at Zhongwei"
        zhongwei = "中卫" if lang == "zh-CN" else "Zhongwei"
        table = " ".join(texts(browser, "#offers-table tbody tr"))
        map_text = " ".join(
            browser.execute_script(
                "return [...document.querySelectorAll('#map .labels text')]"
                ".map((e) => e.textContent)"
            )
        )
        labels = " ".join(
            browser.execute_script(
                "return [...document.querySelectorAll('#map circle.site')]"
                ".map((c) => c.getAttribute('aria-label'))"
            )
        )
        assert zhongwei in table + map_text + labels
        if lang == "zh-CN":
            assert "Zhongwei" not in table

        header = texts(browser, "#fills-table thead th")[1]
        assert ("北京时间" if lang == "zh-CN" else "Beijing") in header
        row = f'#fills-table tbody tr[data-fill="{newest["id"]}"] td.time'
        shown = wait_for(browser, lambda d: texts(d, row), "the newest fill's time")[0]
        assert TIME.match(shown), shown
        assert shown == shanghai(newest["time"])

        prices = [r.split("\t")[7] for r in texts(browser, "#offers-table tbody tr")]
        assert all(p.startswith("¥") for p in prices), prices
        shot(browser, screenshot_dir, f"10-market-{size}-{scheme}-{lang}")
        assert console_errors(browser) == []
    finally:
        reset(browser)


def _axe_script() -> str:
    """axe-core's dist file: from $SUANLI_AXE_JS, else npm-installed into a cache folder."""
    given = os.environ.get("SUANLI_AXE_JS")
    if given:
        return Path(given).read_text(encoding="utf-8")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "suanli-axe"
    target = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm not found: cannot install axe-core (or set SUANLI_AXE_JS)")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
             f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not target.is_file():
            pytest.skip(f"npm install axe-core failed: {done.stderr[-500:]}")
    return target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("lang", "scheme", "fragment"),
    [("en", "light", "#/market"), ("zh-CN", "dark", "#/market"), ("en", "light", "#/operator")],
)
def test_axe_finds_no_serious_or_critical_violations(
    browser: Any, live_server: LiveServer, lang: str, scheme: str, fragment: str
) -> None:
    script = _axe_script()
    emulate(browser, size="laptop", scheme=scheme, lang=lang)
    try:
        browser.get(f"{live_server.url}/{fragment}")
        browser.execute_script("localStorage.clear()")
        open_page(browser, live_server, fragment)
        wait_for(browser, lambda d: css(d, "#map circle.site"), "site circles")
        if fragment == "#/operator":
            wait_for(browser, lambda d: css(d, "#hubs-table tbody tr"), "hub rows")
        browser.execute_script(script)
        browser.set_script_timeout(60)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then((r) => done(JSON.stringify(r.violations))).catch((e) => done(String(e)));"
        )
        violations = json.loads(result)
        bad = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], json.dumps(bad, indent=1)
    finally:
        reset(browser)


def test_a_site_chosen_on_the_map_by_keyboard_filters_offers_and_stays_in_the_url(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    open_page(browser, live_server)
    guian = '#map circle[data-site="guian"]'
    wait_for(browser, lambda d: css(d, guian), "Gui'an")
    attrs = browser.execute_script(
        "const c = document.querySelector(arguments[0]);"
        "return [c.getAttribute('tabindex'), c.getAttribute('role'), c.getAttribute('aria-label')]",
        guian,
    )
    assert attrs[:2] == ["0", "button"] and "Gui'an" in attrs[2]

    def press_enter(d: Any) -> bool:  # the map is redrawn when a fill arrives: retry
        css(d, guian)[0].send_keys(Keys.ENTER)
        return True

    wait_for(browser, press_enter, "Enter on Gui'an")
    wait_for(browser, lambda d: "site=guian" in d.current_url, "the site in the URL")

    def only_guian(d: Any) -> bool:
        rows = texts(d, "#offers-table tbody tr[data-offer]")
        return len(rows) == 2 and all("Gui'an" in r for r in rows)

    wait_for(browser, only_guian, "only Gui'an's two offers")
    assert not css(browser, "#f-site-chip")[0].get_attribute("hidden")
    # the next Filter press keeps the site and adds the GPU
    Select(css(browser, "#f-gpu")[0]).select_by_value("L20")
    css(browser, "#offer-filter button[type=submit]")[0].click()
    wait_for(
        browser,
        lambda d: "site=guian" in d.current_url and "gpu=L20" in d.current_url,
        "site and GPU in the URL",
    )
    wait_for(browser, lambda d: len(texts(d, "#offers-table tbody tr[data-offer]")) == 1, "L20")
    # a fresh page from the URL shows the same view
    browser.get(browser.current_url)
    browser.refresh()
    wait_for(browser, lambda d: d.execute_script("return document.body.dataset.ready"), "ready")
    wait_for(browser, lambda d: len(texts(d, "#offers-table tbody tr[data-offer]")) == 1, "again")
    assert "L20" in texts(browser, "#offers-table tbody tr[data-offer]")[0]
    assert "Gui'an" in texts(browser, "#f-site-name")[0]
    shot(browser, screenshot_dir, "11-site-filter-from-url")
    css(browser, "#f-site-clear")[0].click()
    wait_for(browser, lambda d: "site=" not in d.current_url, "the site filter removed")
    assert console_errors(browser) == []


def test_sort_headers_are_buttons_with_aria_sort(browser: Any, live_server: LiveServer) -> None:
    from selenium.webdriver.common.keys import Keys

    open_page(browser, live_server, "#/market")
    price = css(browser, "#offers-table th[data-sort=price]")[0]
    assert price.get_attribute("aria-sort") == "ascending"
    button = css(browser, "#offers-table th[data-sort=count] button")[0]
    button.send_keys(Keys.ENTER)
    wait_for(
        browser,
        lambda d: (
            css(d, "#offers-table th[data-sort=count]")[0].get_attribute("aria-sort") == "ascending"
        ),
        "sorted by GPUs",
    )
    assert css(browser, "#offers-table th[data-sort=price]")[0].get_attribute("aria-sort") == "none"
    assert "sort=count" in browser.current_url
    assert css(browser, "#live")[0].get_attribute("aria-live") == "polite"


def test_a_group_of_sites_zooms_in_and_the_offer_page_shows_its_details(
    browser: Any, live_server: LiveServer, screenshot_dir: Path
) -> None:
    emulate(browser, size="phone", scheme="light", lang="en")
    try:
        open_page(browser, live_server)
        wait_for(browser, lambda d: css(d, "#map circle.cluster"), "a group of sites")
        members = browser.execute_script(
            "const c = document.querySelector('#map circle.cluster');"
            "c.dispatchEvent(new Event('click')); return c.dataset.cluster.split(' ')"
        )
        assert len(members) >= 2
        wait_for(browser, lambda d: not css(d, "#map-reset")[0].get_attribute("hidden"), "zoom")
        shown = browser.execute_script(
            "return [...document.querySelectorAll('#map circle.site')].flatMap((c) =>"
            " (c.dataset.site || c.dataset.cluster).split(' '))"
        )
        assert set(members) <= set(shown)
        assert len(css(browser, "#map circle.site")) > 1, "zoomed in, the group comes apart"
        shot(browser, screenshot_dir, "12-map-zoomed-phone")
        css(browser, "#map-reset")[0].click()
        wait_for(browser, lambda d: css(d, "#map-reset")[0].get_attribute("hidden"), "reset")
    finally:
        reset(browser)
    with live_server.client() as public:
        offer = public.get("/web/api/offers", params={"site": "zhongwei", "gpu": "H20"}).json()
    offer_id = offer["items"][0]["id"]
    open_page(browser, live_server)
    link = wait_for(
        browser, lambda d: css(d, f'#offers-table tr[data-offer="{offer_id}"] a'), "link"
    )[0]
    link.click()
    wait_for(browser, lambda d: css(d, "#offer-fills tbody tr[data-fill]"), "fills on the offer")
    assert len(css(browser, "#offer-body dl")) == 1, "one description, drawn once"
    body = texts(browser, "#offer-body")[0]
    assert "Zhongwei" in body and "Ningxia" in body and "not verified yet" in body
    assert css(browser, "#offer-chart path.series"), "the offer's price history"
    shot(browser, screenshot_dir, "13-offer-page")
    assert console_errors(browser) == []


OVERLAPS = """
const svg = document.getElementById('map');
const boxes = [...svg.querySelectorAll('.labels text')].map((t) => [t.textContent, t.getBBox()]);
const circles = [...svg.querySelectorAll('circle.site, circle.city')].map((c) =>
  [+c.getAttribute('cx'), +c.getAttribute('cy'), +c.getAttribute('r')]);
const [, , W, H] = svg.getAttribute('viewBox').split(' ').map(Number);
const out = [];
const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width &&
  a.y < b.y + b.height && b.y < a.y + a.height;
boxes.forEach(([name, b], i) => {
  if (b.x < 0 || b.y < 0 || b.x + b.width > W || b.y + b.height > H) {
    out.push(`${name} leaves the map`);
  }
  boxes.slice(i + 1).forEach(([other, o]) => { if (hit(b, o)) out.push(`${name} / ${other}`); });
  for (const [cx, cy, r] of circles) {
    const nx = Math.max(b.x, Math.min(cx, b.x + b.width));
    const ny = Math.max(b.y, Math.min(cy, b.y + b.height));
    if ((nx - cx) ** 2 + (ny - cy) ** 2 < (r - 1) ** 2) out.push(`${name} covers ${cx},${cy}`);
  }
});
return [boxes.length, out];
"""


@pytest.mark.parametrize("size", ["phone", "laptop"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_map_labels_cover_no_circle_and_no_other_label(
    browser: Any, live_server: LiveServer, size: str, lang: str
) -> None:
    emulate(browser, size=size, scheme="light", lang=lang)
    try:
        browser.get(f"{live_server.url}/#/market")
        browser.execute_script("localStorage.clear()")
        open_page(browser, live_server)
        wait_for(browser, lambda d: css(d, "#map .labels text"), "map labels")
        count, problems = browser.execute_script(OVERLAPS)
        assert count >= 8, "most sites and cities are named"
        assert problems == [], problems
    finally:
        reset(browser)
