"""``suanli place`` and ``suanli bench placement`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _args(ext: str) -> list[str]:
    return [
        "place",
        "--offers",
        str(EXAMPLES / f"offers.{ext}"),
        "--requests",
        str(EXAMPLES / f"requests.{ext}"),
    ]


def test_place_json_is_one_document_with_explanations() -> None:
    result = runner.invoke(app, [*_args("yaml"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "optimal" and doc["placed"] == 3
    assert set(doc["assignments"]) == {"chat-east", "train-70b", "embed-corpus"}
    chat = doc["explanations"]["chat-east"]
    assert chat["chosen"] and chat["rejected_by_reason"]
    assert doc["total_cost_cny_per_hour"] == sum(
        a["cost_cny_per_hour"] for rows in doc["assignments"].values() for a in rows
    )


def test_place_table_for_csv_inputs() -> None:
    result = runner.invoke(app, _args("csv"))
    assert result.exit_code == 0, result.output
    assert "Placement" in result.stdout and "3 of 3 placed" in result.stdout


def test_place_exports_k8s_and_skypilot(tmp_path: Path) -> None:
    for fmt in ("k8s", "skypilot"):
        out = tmp_path / fmt
        result = runner.invoke(app, [*_args("json"), "--json", "--export", fmt, str(out)])
        assert result.exit_code == 0, result.output
        written = json.loads(result.stdout)["exported"]
        assert written
        for name in written:
            docs = list(yaml.safe_load_all(Path(name).read_text(encoding="utf-8")))
            assert docs and all(isinstance(d, dict) for d in docs)
            if fmt == "k8s":
                assert {d["kind"] for d in docs} <= {"Deployment", "Job", "StatefulSet", "Service"}
            else:
                assert ":" in docs[0]["resources"]["accelerators"]


def test_bad_offer_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "offers.yaml"
    bad.write_text(
        "offers:\n  - {id: x, site: guian, gpu: H100, count: -1, price_cny_per_gpu_hour: 3}\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["place", "--offers", str(bad), "--requests", str(EXAMPLES / "requests.yaml")]
    )
    assert result.exit_code == 2
    assert "count" in result.output and "Traceback" not in result.output


def test_missing_file_and_unknown_export_format(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "place",
            "--offers",
            str(tmp_path / "nope.yaml"),
            "--requests",
            str(EXAMPLES / "requests.yaml"),
        ],
    )
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(app, [*_args("yaml"), "--export", "helm", str(tmp_path)])
    assert result.exit_code == 2 and "export" in result.output


def test_bench_placement_prints_one_json_document() -> None:
    result = runner.invoke(
        app, ["bench", "placement", "--sites", "8", "--requests", "40", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["fast"]["objective_gap"] >= -1e-9
    assert doc["fast"]["gap"] is None or doc["fast"]["gap"] >= -1e-9
    assert doc["fast"]["unplaced_gpus"] >= doc["fast"]["lp_unplaced_gpus"]
    assert {"nearest", "cheapest_type", "milp"} <= set(doc)
    assert doc["milp"]["status"] == "optimal"
    assert doc["fast"]["objective"] >= doc["milp"]["objective"] - 1e-6
