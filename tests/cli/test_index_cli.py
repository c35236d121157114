"""``suanli index`` prints ISO 8601 dates and yuan, not hours since 1970."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from suanli.cli.common import hour_iso, money
from suanli.cli.main import app

# 2026-11-29 20:00 UTC on the exchange clock (hours since 1970)
START_H = 1_795_982_400 / 3600.0


def fake_doc(*_: Any) -> dict[str, Any]:
    points = [
        {"start_h": START_H + i, "cny_per_gpu_hour": 12345.678 if i else 9.8,
         "gpu_hours": 1500.0, "fills": 1200, "stale": i == 2}
        for i in range(3)
    ]  # fmt: skip
    return {"gpu": "H100-SXM", "hub": None, "period": "hour", "pricing": "on-demand",
            "method": "m", "latest_cny_per_gpu_hour": 9.8, "points": points}  # fmt: skip


def test_hours_on_the_exchange_clock_print_as_iso_dates() -> None:
    assert hour_iso(START_H) == "2026-11-29T20:00Z"
    assert hour_iso(0.0) == "1970-01-01T00:00Z"
    assert money(12345.6) == "¥12,345.60" and money(-3) == "-¥3.00"


def test_the_table_and_the_json_show_iso_times(monkeypatch: pytest.MonkeyPatch) -> None:
    from suanli.cli import index_cmd

    monkeypatch.setattr(index_cmd, "_local", fake_doc)
    runner = CliRunner()
    shown = runner.invoke(app, ["index", "--gpu", "H100"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert "2026-11-29T20:00Z" in shown.stdout and "2026-11-29T22:00Z" in shown.stdout
    assert "¥12,345.68" in shown.stdout and "1,500.0" in shown.stdout
    assert "498" not in shown.stdout  # no hours since 1970
    doc = json.loads(runner.invoke(app, ["index", "--gpu", "H100", "--json"]).stdout)
    assert [p["start"] for p in doc["points"]] == [
        "2026-11-29T20:00Z", "2026-11-29T21:00Z", "2026-11-29T22:00Z"
    ]  # fmt: skip
    assert doc["points"][0]["start_h"] == START_H  # the exchange clock is kept
