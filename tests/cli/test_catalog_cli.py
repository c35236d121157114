"""The catalog and latency commands through Typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()


def test_catalog_gpus_json_is_one_document() -> None:
    result = runner.invoke(app, ["catalog", "gpus", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} >= {"H100-SXM", "H20", "A800-SXM-80GB"}


def test_catalog_tables_render() -> None:
    for group in ("gpus", "sites", "cities", "prices"):
        result = runner.invoke(app, ["catalog", group])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip()


def test_latency_between_city_and_site() -> None:
    result = runner.invoke(app, ["latency", "--from", "shanghai", "--to", "zhongwei", "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["from"] == "shanghai" and body["to"] == "zhongwei"
    assert 20 < body["rtt_ms"] < 40


def test_latency_matrix_json() -> None:
    result = runner.invoke(app, ["latency", "--matrix", "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert len(body["rtt_ms"]) == len(body["cities"]) == 10


def test_unknown_city_is_one_clear_line() -> None:
    result = runner.invoke(app, ["latency", "--from", "shangai", "--to", "zhongwei"])
    assert result.exit_code == 2
    assert "unknown place 'shangai'" in result.output
    assert "Traceback" not in result.output
    assert "shanghai" in result.output
