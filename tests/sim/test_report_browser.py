"""The report in headless Chromium: it opens with the verdict and the sensitivity table, and
no chart label is clipped by its chart's edges."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.sim import SimResult, parse_scenario, simulate
from suanli.sim.report import render_report
from suanli.sim.sweep import sweep
from tests.sim.conftest import SMALL_YAML

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

# Every <text> of every chart, its box in the chart's own coordinates against the chart's
# viewBox (or width/height): a label that sticks out is cut off by the <svg> edge.
CLIPPED_JS = """
const out = [];
document.querySelectorAll('svg').forEach((svg, i) => {
  const vb = svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width
    ? svg.viewBox.baseVal
    : {x: 0, y: 0, width: svg.width.baseVal.value, height: svg.height.baseVal.value};
  svg.querySelectorAll('text').forEach(t => {
    if (!t.textContent.trim()) return;
    const b = t.getBBox();
    const m = t.getCTM() && svg.getCTM()
      ? svg.getCTM().inverse().multiply(t.getCTM()) : null;
    let x0 = b.x, y0 = b.y, x1 = b.x + b.width, y1 = b.y + b.height;
    if (m) {
      const pts = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(([x, y]) =>
        [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
      x0 = Math.min(...pts.map(p => p[0])); x1 = Math.max(...pts.map(p => p[0]));
      y0 = Math.min(...pts.map(p => p[1])); y1 = Math.max(...pts.map(p => p[1]));
    }
    const tol = 0.5;
    if (x0 < vb.x - tol || y0 < vb.y - tol || x1 > vb.x + vb.width + tol ||
        y1 > vb.y + vb.height + tol) {
      out.push(`svg ${i}: "${t.textContent.trim()}" [${x0.toFixed(1)}, ${y0.toFixed(1)}, ` +
               `${x1.toFixed(1)}, ${y1.toFixed(1)}] outside ${vb.width}x${vb.height}`);
    }
  });
});
return out;
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium not found: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="suanli-chromium-")
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def result() -> SimResult:
    return simulate(parse_scenario(SMALL_YAML, path="small.yaml"), days=2, seed=4)


@pytest.fixture(scope="module")
def page(result: SimResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    swept = sweep(parse_scenario(SMALL_YAML, path="small.yaml"), days=0.5, seed=4, workers=1)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(result, sweep=swept), encoding="utf-8")
    return path


def test_report_opens_with_the_verdict_then_the_sensitivity_table(browser: Any, page: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings[:2] == [
        "Verdict",
        "Sensitivity (costs at the starting asks; every policy on each variant's demand)",
    ]
    items = browser.find_elements(By.CSS_SELECTOR, "#verdict li")
    assert len(items) == 4
    assert all(any(ch.isdigit() for ch in li.text) for li in items)  # each states figures
    rows = browser.find_elements(By.CSS_SELECTOR, "#sensitivity tr")
    assert len(rows) == 1 + 7  # header and one row per variant


def test_no_chart_label_is_clipped(browser: Any, page: Path) -> None:
    browser.get(page.as_uri())
    charts = browser.execute_script("return document.querySelectorAll('svg').length")
    assert charts >= 10
    clipped = browser.execute_script(CLIPPED_JS)
    assert clipped == [], "\n".join(clipped)


def test_the_check_sees_a_clipped_label(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "clipped.html"
    page.write_text(
        "<!DOCTYPE html><html><body><svg viewBox='0 0 100 40' width='100' height='40'>"
        "<text x='60' y='20'>a label far too long for this chart</text></svg></body></html>",
        encoding="utf-8",
    )
    browser.get(page.as_uri())
    assert len(browser.execute_script(CLIPPED_JS)) == 1
