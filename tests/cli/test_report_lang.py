"""``suanli simulate --lang``: the report in Chinese or English."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from suanli.cli.main import app
from tests.sim.conftest import SMALL_YAML


def test_report_language_follows_lang(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL_YAML, encoding="utf-8")
    runner = CliRunner()
    pages = {}
    for lang in ("zh-CN", "en"):
        report = tmp_path / f"report-{lang}.html"
        args = ["simulate", "--scenario", str(scenario), "--days", "0.5", "--seed", "2",
                "--report", str(report), "--json", "--lang", lang]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        pages[lang] = report.read_text(encoding="utf-8")
    assert "<html lang='zh-CN'>" in pages["zh-CN"] and "<html lang='en'>" in pages["en"]
    assert "各策略对比" in pages["zh-CN"] and "南海诸岛" in pages["zh-CN"]
    assert "北京时间" in pages["zh-CN"] and "Policies side by side" not in pages["zh-CN"]
    assert "Policies side by side" in pages["en"] and "各策略对比" not in pages["en"]
    bad = runner.invoke(app, ["simulate", "--scenario", str(scenario), "--lang", "fr"])
    assert bad.exit_code != 0 and "lang" in bad.output
