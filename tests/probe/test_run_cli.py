"""A whole probe run with fakes, and ``suanli probe`` through Typer's CliRunner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app
from suanli.cli.probe_cmd import EXIT_NO_GPU
from suanli.errors import Unavailable
from suanli.probe import run as probe_run
from suanli.probe.record import check_record
from tests.probe.conftest import H200_ROW, missing_runner, smi_runner


def _quiet(_message: str) -> None:
    pass


def test_probe_without_torch_identifies_but_does_not_measure() -> None:
    env = probe_run.Environment(runner=smi_runner([H200_ROW, H200_ROW.replace("0,", "1,", 1)]))
    record = probe_run.probe(quick=True, env=env, progress=_quiet, budget_s=20.0)
    check_record(record)
    assert record["mode"] == "quick" and record["budget_s"] == 20.0
    assert [g["index"] for g in record["gpus"]] == [0, 1]
    for entry in record["gpus"]:
        assert entry["identification"]["claimed"] == "H200-SXM"
        assert entry["verdict"]["status"] == "unmeasured"
        assert entry["measurements"] == []
    names = {m["name"] for m in record["cpu_measurements"]}
    assert names == {"fp32_matmul_gflops_cpu", "memcpy_gb_s_cpu", "decode_step_ms"}
    assert record["machine"]["driver"] == "580.159.04"
    rows = probe_run.summary_rows(record)
    assert rows[0][:3] == [0, "NVIDIA H200", "H200-SXM"] and rows[0][-1] == "unmeasured"


def test_probe_without_gpu_raises_unavailable() -> None:
    env = probe_run.Environment(runner=missing_runner)
    with pytest.raises(Unavailable):
        probe_run.probe(env=env, progress=_quiet)


@pytest.fixture
def fake_machine(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(runner: Any) -> None:
        monkeypatch.setattr(probe_run, "load_environment", lambda: probe_run.Environment(runner))

    return use


def test_cli_without_gpu_exits_3_with_one_json_document(fake_machine: Any) -> None:
    fake_machine(missing_runner)
    result = CliRunner().invoke(app, ["probe", "--json", "--quick"])
    assert result.exit_code == EXIT_NO_GPU == 3
    body = json.loads(result.stdout)
    assert body["error"] == "unavailable" and body["context"]["reason"] == "no_tool"


def test_cli_without_driver_explains_itself(fake_machine: Any) -> None:
    fake_machine(smi_runner([], status=9, stderr="couldn't communicate with the NVIDIA driver"))
    result = CliRunner().invoke(app, ["probe", "--quick"])
    assert result.exit_code == 3
    assert "cannot talk to the NVIDIA driver" in result.stderr


def test_cli_json_prints_the_record(fake_machine: Any, tmp_path: Any) -> None:
    fake_machine(smi_runner([H200_ROW]))
    out = tmp_path / "record.json"
    result = CliRunner().invoke(app, ["probe", "--json", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    check_record(record)
    assert json.loads(out.read_text())["sha256"] == record["sha256"]


def test_cli_table(fake_machine: Any) -> None:
    fake_machine(smi_runner([H200_ROW]))
    result = CliRunner().invoke(app, ["probe", "--quick"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "H200-SXM" in result.stdout and "unmeasured" in result.stdout
    assert "sha256" in result.stdout


def test_cli_upload_needs_a_key(fake_machine: Any) -> None:
    fake_machine(smi_runner([H200_ROW]))
    result = CliRunner().invoke(app, ["probe", "--quick", "--upload"], env={"SUANLI_KEY": ""})
    assert result.exit_code == 2
    assert "--key" in result.stderr
