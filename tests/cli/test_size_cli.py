"""``suanli size``, ``size-batch`` and ``size-train`` through Typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()

EXAMPLE = [
    "size",
    "--model",
    "qwen2.5-32b",
    "--rate",
    "40",
    "--prompt-tokens",
    "1000",
    "--output-tokens",
    "300",
    "--ttft-ms",
    "800",
    "--tpot-ms",
    "50",
]


def test_size_table_shows_configs_rejections_and_plan() -> None:
    result = runner.invoke(app, EXAMPLE)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Configurations, cheapest first" in out
    assert "Plan:" in out and "CNY per M output tokens" in out
    tight = runner.invoke(app, [*EXAMPLE[:-1], "12"])  # a TPOT the slow cards cannot reach
    assert tight.exit_code == 0, tight.output
    assert "cannot meet the targets" in tight.stdout and "even at batch 1" in tight.stdout


def test_size_json_is_one_document() -> None:
    result = runner.invoke(app, [*EXAMPLE, "--percentile", "99", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == "Qwen2.5-32B"
    assert doc["request"]["percentile"] == 99.0
    costs = [c["cost_cny_per_hour"] for c in doc["configs"]]
    assert costs == sorted(costs) and doc["best"] == doc["configs"][0]
    assert doc["heterogeneous"] is None  # no trace, no length buckets


def test_size_with_a_trace_and_gpu_subset_gives_a_mixed_plan() -> None:
    result = runner.invoke(
        app,
        [
            "size",
            "--model",
            "qwen2.5-7b",
            "--trace",
            "azure-conv",
            "--ttft-ms",
            "1000",
            "--tpot-ms",
            "40",
            "--gpu",
            "H100",
            "--gpu",
            "L40S",
            "--gpu",
            "RTX-4090",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["request"]["trace"] == "azure-conv"
    assert doc["request"]["rate_per_s"] > 0  # the trace's own rate
    assert {c["gpu"] for c in doc["configs"]} <= {"H100-SXM", "L40S", "RTX-4090"}
    plan = doc["heterogeneous"]
    assert plan is not None
    assert set(plan["assignment"]) == {b["label"] for b in plan["buckets"]}
    assert sum(g["cost_cny_per_hour"] for g in plan["groups"]) == plan["cost_cny_per_hour"]


def test_price_override_changes_the_cost() -> None:
    result = runner.invoke(app, [*EXAMPLE, "--gpu", "H100", "--price", "H100=10", "--json"])
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["best"]
    assert best["cost_cny_per_hour"] == best["gpus"] * 10


def test_bad_input_is_one_line_and_exit_2() -> None:
    bad_rate = [a if a != "40" else "-3" for a in EXAMPLE]
    result = runner.invoke(app, bad_rate)
    assert result.exit_code == 2
    assert "rate_per_s" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*EXAMPLE, "--price", "H100=free"])
    assert result.exit_code == 2 and "--price" in result.output
    result = runner.invoke(
        app, ["size", "--model", "qwen2.5-32b", "--ttft-ms", "800", "--tpot-ms", "50"]
    )
    assert result.exit_code == 2 and "--rate" in result.output


def test_size_batch_and_train_json() -> None:
    result = runner.invoke(
        app,
        [
            "size-batch",
            "--model",
            "llama-3.1-8b",
            "--requests",
            "100000",
            "--prompt-tokens",
            "1000",
            "--output-tokens",
            "200",
            "--gpus",
            "8",
            "--deadline-h",
            "12",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["estimates"] and all(e["gpu_hours"] > 0 for e in doc["estimates"])
    result = runner.invoke(
        app,
        [
            "size-train",
            "--model",
            "llama-3.1-70b",
            "--tokens",
            "1e11",
            "--gpus",
            "64",
            "--gpu",
            "H800",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    (est,) = json.loads(result.stdout)["estimates"]
    assert est["fabric"] == "nvlink-ib" and any("NVLink cut" in n for n in est["notes"])
    result = runner.invoke(
        app, ["size-train", "--params", "7e9", "--tokens", "1e10", "--gpus", "8", "--gpu", "H100"]
    )
    assert result.exit_code == 0, result.output
    assert "H100-SXM" in result.stdout
