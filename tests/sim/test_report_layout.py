"""The report's look in headless Chromium: no chart text outside its chart's box, the page
no wider than a phone, the same names as the dashboard, in English and in Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from suanli.sim import SimResult, simulate
from suanli.sim.report import render_report
from tests.web.conftest import screenshot_dir
from tests.web.test_browser import browser, console_errors, shot

__all__ = ["browser", "screenshot_dir"]

pytestmark = pytest.mark.browser

# every <text> of every chart against its <svg>'s box, in page pixels (transforms applied)
OUTSIDE = """
const out = [];
document.querySelectorAll('svg').forEach((svg, i) => {
  const box = svg.getBoundingClientRect();
  svg.querySelectorAll('text').forEach((t) => {
    const r = t.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
        r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
      out.push(`chart ${i}: "${t.textContent}" [${r.left.toFixed(1)}, ${r.right.toFixed(1)}] x ` +
               `[${r.top.toFixed(1)}, ${r.bottom.toFixed(1)}] outside [${box.left.toFixed(1)}, ` +
               `${box.right.toFixed(1)}] x [${box.top.toFixed(1)}, ${box.bottom.toFixed(1)}]`);
    }
  });
});
return out;
"""


# on each map, site and city labels (classes m and s inside a text layer after the circles)
# overlap neither each other nor a site circle or city square
LABELS_APART = """
const out = [];
document.querySelectorAll('svg').forEach((svg, i) => {
  if (!svg.querySelector('circle')) return;
  const labels = [...svg.querySelectorAll('text.m, text.s')].filter((t) => !t.closest('g'))
    .map((t) => [t.textContent, t.getBoundingClientRect()]);
  const marks = [...svg.querySelectorAll('circle, rect.city')]
    .map((c) => c.getBoundingClientRect());
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  labels.forEach(([name, b], j) => {
    labels.slice(j + 1).forEach(([other, o]) => {
      if (hit(b, o)) out.push(`map ${i}: ${name} / ${other}`);
    });
    marks.forEach((m) => { if (hit(b, m)) out.push(`map ${i}: ${name} covers a mark`); });
  });
});
return out;
"""


@pytest.fixture(scope="module")
def result() -> SimResult:
    from suanli.sim import parse_scenario
    from tests.sim.conftest import SMALL_YAML

    return simulate(parse_scenario(SMALL_YAML, path="small.yaml"), days=2, seed=4)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("width", [1440, 390])
def test_no_chart_text_leaves_its_chart(
    browser: Any,
    result: SimResult,
    tmp_path: Path,
    screenshot_dir: Path,
    lang: Literal["en", "zh-CN"],
    width: int,
) -> None:
    page = tmp_path / f"report-{lang}.html"
    page.write_text(render_report(result, lang), encoding="utf-8")
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500},
    )
    try:
        console_errors(browser)
        browser.get(page.as_uri())
        assert browser.execute_script("return document.documentElement.lang") == lang
        charts = browser.execute_script("return document.querySelectorAll('svg').length")
        texts = browser.execute_script("return document.querySelectorAll('svg text').length")
        assert charts >= 10 and texts > 150
        assert browser.execute_script(OUTSIDE) == []
        assert (apart := browser.execute_script(LABELS_APART)) == [], apart
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"the report is {scroll} px wide at {width} px"
        body = browser.execute_script(
            "return document.body.innerText + ' ' +"
            " [...document.querySelectorAll('svg text')].map((t) => t.textContent).join(' ')"
        )
        from suanli.catalog.cartography import hub_label, site_label

        world = result.world
        for site_id, region in zip(world.site_ids, world.regions, strict=True):
            assert site_label(site_id, lang) in body  # the dashboard's names
            assert hub_label(region, lang) in body
        if lang == "zh-CN":
            assert "各枢纽利用率" in body and "南海诸岛" in body and "西部枢纽" in body
            assert all(site_label(s, "en") not in body for s in world.site_ids)
        else:
            assert "Utilization by hub" in body and "South China Sea Islands" in body
        shot(browser, screenshot_dir, f"20-report-{lang}-{width}")
        assert console_errors(browser) == []
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def edge_case_charts() -> str:
    """Charts built to push text at every edge: a 0-4,000 ms axis (the last label sat on the
    right edge), a reference line near the top with a long label, long legend and group
    labels, Chinese titles, and every catalog site and city on one map."""
    from suanli.catalog import cities, sites
    from suanli.sim.svg import Series, bar_chart, line_chart, site_map

    xs = [i * 40.0 for i in range(101)]
    cdf = [i / 100 for i in range(101)]
    charts = [
        line_chart(
            [Series(f"Yangtze River Delta region {i}", xs, cdf, "#1f77b4") for i in range(5)],
            title="chat-qwen-32b-long-workload-name: Suanli (exchange, latency-aware placement)",
            x_label="TTFT (ms)", y_label="share of requests", y_range=(0, 1), y_percent=True,
            x_range=(0, 4000), vlines=[(3900, "target")], hlines=[(0.99, "p99 reference")],
            width=400, height=260, legend_columns=3,
        ),
        line_chart(
            [Series("H100-SXM", [0.5, 1.5], [11.0, 12.79], "#d62728")],
            title="各策略租赁价格指数", x_label="天", y_label="元 / GPU·小时",
            hlines=[(12.8, "H100 ¥12.8/GPU·小时（8 卡每月 75,000 元，2025-03）")],
            width=400, height=280,
        ),
        bar_chart(
            ["a-very-long-workload-name-one", "another-long-workload-name", "all"],
            [("nearest-site placement", [1.0, 2.0, 3.0], "#d62728"),
             ("cheapest-type placement", [1.5, 2.5, 3.5], "#ff7f0e"),
             ("Suanli exchange", [0.5, 1.0, 2.0], "#2ca02c")],
            title="Serving cost (GPU rent / tokens served, prompt + output)",
            y_label="CNY per million tokens", width=420, height=300,
        ),
        site_map(
            [(s.name, s.lat, s.lon, 512.0, i / 15) for i, s in enumerate(sites())],
            [(c.name, c.lat, c.lon) for c in cities()],
            title="Suanli",
        ),
    ]  # fmt: skip
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><style>"
        "svg text{font-size:11px}svg .t{font-size:13px;font-weight:600}svg .s{font-size:10px}"
        "svg .reft{font-size:10px}</style></head><body>" + "".join(charts) + "</body></html>"
    )


def test_text_stays_inside_charts_built_to_push_it_out(
    browser: Any, tmp_path: Path, screenshot_dir: Path
) -> None:
    page = tmp_path / "edges.html"
    page.write_text(edge_case_charts(), encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.execute_script("return document.querySelectorAll('svg').length") == 4
    shot(browser, screenshot_dir, "21-report-edge-cases")
    assert browser.execute_script(OUTSIDE) == []
    assert (apart := browser.execute_script(LABELS_APART)) == [], apart
