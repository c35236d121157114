"""``suanli simulate``, ``suanli demo`` and ``suanli bench sim`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app
from suanli.sim import POLICIES
from tests.sim.conftest import SMALL_YAML

runner = CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    return path


def test_simulate_json_is_one_document_and_writes_the_report(
    scenario_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "report.html"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--scenario",
            str(scenario_file),
            "--days",
            "1",
            "--seed",
            "3",
            "--report",
            str(report),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["scenario"] == "small"
    assert set(doc["policies"]) == set(POLICIES)
    assert doc["report"] == str(report.resolve())
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    suanli = doc["policies"]["suanli"]
    assert 0 <= suanli["utilization"]["all"] <= 1
    assert suanli["cost_cny_per_million_tokens"]["all"] > 0


def test_simulate_selected_policies_and_table_output(scenario_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--scenario",
            str(scenario_file),
            "--days",
            "0.5",
            "--policy",
            "nearest,suanli",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["policies"]) == {"nearest", "suanli"}
    table = runner.invoke(
        app, ["simulate", "--scenario", str(scenario_file), "--days", "0.5", "--policy", "suanli"]
    )
    assert table.exit_code == 0, table.output
    assert "Mean utilization by region" in table.stdout


def test_bad_scenario_file_names_file_item_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_YAML.replace("id: zhangjiakou", "id: atlantis"), encoding="utf-8")
    result = runner.invoke(app, ["simulate", "--scenario", str(bad), "--days", "1"])
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert "sites[1] atlantis" in result.stderr
    assert "field id" in result.stderr
    assert "Traceback" not in result.output

    negative = tmp_path / "negative.yaml"
    negative.write_text(
        SMALL_YAML.replace("inventory: {H100-SXM: 32}", "inventory: {H100-SXM: -1}"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["simulate", "--scenario", str(negative)])
    assert result.exit_code == 2
    assert "inventory.H100-SXM" in result.stderr and "sites[1] zhangjiakou" in result.stderr


def test_unknown_policy_and_scenario_exit_2(scenario_file: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "--scenario", str(scenario_file), "--policy", "random"]
    )
    assert result.exit_code == 2
    assert "unknown policy" in result.stderr
    result = runner.invoke(app, ["simulate", "--scenario", "china-2052"])
    assert result.exit_code == 2
    assert "china-2025" in result.stderr


@pytest.mark.slow
def test_demo_runs_a_short_market_and_says_where_the_report_is(tmp_path: Path) -> None:
    report = tmp_path / "demo.html"
    result = runner.invoke(app, ["demo", "--days", "0.25", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert report.exists()
    assert str(report.resolve()) in result.stdout.replace("\n", "")
    assert "suanli" in result.stdout


def test_bench_sim_prints_one_json_document() -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "sim",
            "--days",
            "0.25",
            "--baseline-requests",
            "200",
            "--sweep-days",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["benchmark"] == "sim"
    assert doc["sites"] == 15
    assert doc["latency_eval"]["baseline_matches"] is True
    assert doc["policies"] == list(POLICIES)
    assert doc["bound_cost_cny_per_million_tokens"] > 0 and doc["bound_s"] >= 0
    assert doc["cpu_s"] > 0 and doc["sweep"] is None


def test_simulate_sweep_runs_every_variant_in_parallel_processes(scenario_file: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--scenario", str(scenario_file), "--days", "0.25", "--sweep", "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    sweep = doc["sensitivity"]
    names = [v["variant"] for v in sweep["variants"]]
    assert names == [
        "as given",
        "demand x0.5",
        "demand x2",
        "equal asks",
        "route factor 2.0",
        "TTFT targets halved",
        "western inventory halved",
    ]
    assert sweep["workers"] >= 2 and sweep["wall_s"] > 0
    for v in sweep["variants"]:
        assert set(v["policies"]) == set(POLICIES)
        assert v["bound_cost_cny_per_million_tokens"] > 0
    # The variants change the inputs: equal asks move the bound's cost.
    bounds = {v["variant"]: v["bound_cost_cny_per_million_tokens"] for v in sweep["variants"]}
    assert bounds["equal asks"] != bounds["as given"]
    assert doc["verdict"] and doc["bound"]["cost_cny_per_million_tokens"] > 0
