"""The HTML report: self-contained, every section present, renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from suanli.sim import POLICIES, SimResult, simulate
from suanli.sim.report import render_report
from suanli.sim.summary import summary

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def result() -> SimResult:
    from suanli.sim import parse_scenario
    from tests.sim.conftest import SMALL_YAML

    return simulate(parse_scenario(SMALL_YAML, path="small.yaml"), days=2, seed=4)


def test_report_is_self_contained_with_every_section(result: SimResult) -> None:
    html = render_report(result)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for heading in (
        "Utilization by hub over time",
        "Rental price index",
        "cost per million tokens",
        "Time to first token by user region",
        "Map of sites",
        "SLO attainment by city",
    ):
        assert heading in html
    assert html.count("<svg") >= 3 * 4 + 1
    for p in result.policies.values():
        assert p.label in html


def test_summary_is_json_ready(result: SimResult) -> None:
    import json

    doc = summary(result)
    text = json.dumps(doc, allow_nan=False)
    assert set(doc["policies"]) == set(POLICIES)
    assert json.loads(text)["simulated_requests"] == result.requests


@pytest.mark.browser
def test_report_renders_in_headless_chromium(result: SimResult, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: apt-get install chromium")
    page = tmp_path / "report.html"
    page.write_text(render_report(result), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    exe = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Suanli market simulation" in dom.stdout
    assert dom.stdout.count("<svg") >= 13
    console_errors = [
        line
        for line in dom.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)
    ]
    assert not console_errors, console_errors
    shoot = subprocess.run(
        [exe, *flags, f"--screenshot={shot}", "--window-size=1400,3000", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shoot.returncode == 0, shoot.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one
