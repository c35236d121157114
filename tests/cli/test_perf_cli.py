"""``suanli perf ...`` and ``suanli catalog models`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()


def test_decode_json_is_one_document() -> None:
    result = runner.invoke(
        app,
        [
            "perf",
            "decode",
            "--model",
            "qwen2.5-32b",
            "--gpu",
            "h20",
            "--batch",
            "16",
            "--context",
            "2000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["model"] == "Qwen2.5-32B" and body["gpu"] == "H20"
    assert body["step_ms"] > 0 and body["tokens_per_s"] > 0
    assert body["fits"] is True and body["memory_gb"] < 96


def test_decode_table_and_prefill_with_tp() -> None:
    result = runner.invoke(
        app,
        [
            "perf",
            "decode",
            "-m",
            "llama-3.1-70b",
            "-g",
            "h100",
            "-b",
            "8",
            "-c",
            "1000",
        ],
    )
    assert result.exit_code == 0
    assert "step_ms" in result.stdout and "fits False" in result.stdout
    result = runner.invoke(
        app,
        [
            "perf",
            "prefill",
            "-m",
            "llama-3.1-70b",
            "-g",
            "h800",
            "--prompt-tokens",
            "2000",
            "--tp",
            "4",
            "--precision",
            "fp8",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["prefill_ms"] > 0 and body["allreduce_ms"] > 0 and body["fits"]


def test_model_from_config_path(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "model_type": "qwen2",
                "hidden_size": 3584,
                "intermediate_size": 18944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
                "vocab_size": 152064,
            }
        )
    )
    result = runner.invoke(
        app,
        [
            "perf",
            "prefill",
            "--model",
            str(path),
            "--gpu",
            "l20",
            "--prompt-tokens",
            "512",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["prefill_ms"] > 0


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.stdout == ""
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("error:")
    return result.stderr


def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path: Path) -> None:
    err = _one_line_error(["perf", "decode", "-m", "llama-3.1-8b", "-g", "h900"])
    assert "unknown gpu" in err
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    err = _one_line_error(["perf", "decode", "-m", str(bad), "-g", "h100"])
    assert "malformed JSON" in err
    missing = tmp_path / "missing" / "config.json"
    missing.parent.mkdir()
    missing.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    err = _one_line_error(["perf", "prefill", "-m", str(missing), "-g", "h100", "-p", "10"])
    assert "num_hidden_layers" in err
    err = _one_line_error(
        ["perf", "decode", "-m", "llama-3.1-8b", "-g", "a100", "--precision", "fp8"]
    )
    assert "FP8" in err
    err = _one_line_error(["perf", "decode", "-m", "llama-3.1-8b", "-g", "h100", "--tp", "3"])
    assert "tensor parallelism" in err
    err = _one_line_error(["perf", "decode", "-m", "gpt-5", "-g", "h100"])
    assert "unknown model" in err


def test_calibration_table_reports_every_point() -> None:
    result = runner.invoke(app, ["perf", "calibration", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["summary"]["points"] == len(body["points"]) >= 40
    for row in body["points"]:
        assert {"measured_ms", "predicted_ms", "error", "source", "engine"} <= set(row)
        assert row["profile"] == row["engine"]
    assert body["summary"]["median_abs_error"] <= 0.10
    assert body["summary"]["max_abs_error"] <= 0.25
    assert body["calibration"]["default_engine"] == "vllm"
    assert set(body["leave_one_source_out"]) == set(body["summary"]["by_source"])
    overall = body["leave_one_source_out_overall"]
    assert overall["points"] == body["summary"]["points"]
    assert body["held_out"]["points"] and "held_out" not in body["summary"]["by_source"]
    assert "vllm" in body["calibration"]["engines"]
    text = runner.invoke(app, ["perf", "calibration"])
    assert text.exit_code == 0 and "median |error|" in text.stdout
    assert "leave-one-source-out over all" in text.stdout and "held out" in text.stdout
    err = _one_line_error(["perf", "calibration", "--save", "x.json"])
    assert "--refit" in err


def test_engine_option_picks_a_profile() -> None:
    args = ["perf", "prefill", "-m", "llama-2-70b", "-g", "a100", "-p", "128", "--tp", "4"]
    default = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    lmdeploy = runner.invoke(app, [*args, "--engine", "lmdeploy", "--json"])
    assert lmdeploy.exit_code == 0, lmdeploy.output
    body = json.loads(lmdeploy.stdout)
    assert default["engine"] == "vllm" and body["engine"] == "lmdeploy"
    assert body["prefill_ms"] != default["prefill_ms"]
    text = runner.invoke(
        app, ["perf", "decode", "-m", "llama-3.1-8b", "-g", "h200", "-e", "pytorch"]
    )
    assert text.exit_code == 0 and "pytorch" in text.stdout
    err = _one_line_error([*args, "--engine", "llama.cpp"])
    assert "unknown engine" in err and "tensorrt-llm" in err


def test_catalog_models() -> None:
    result = runner.invoke(app, ["catalog", "models", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    names = {r["name"] for r in rows}
    assert {"DeepSeek-V3", "Qwen3-30B-A3B", "Llama-3.1-8B"} <= names
    by_name = {r["name"]: r for r in rows}
    # Llama-3.1-8B: 2 (K, V) x 32 layers x 8 KV heads x 128 dims x 2 bytes
    assert by_name["Llama-3.1-8B"]["kv_bytes_per_token"]["bf16"] == 131_072
    assert by_name["DeepSeek-V3"]["weight_precision"] == "fp8"
    assert runner.invoke(app, ["catalog", "models"]).exit_code == 0


def test_generate_json_contract() -> None:
    args = ["perf", "generate", "--model", "llama-3.1-70b", "--gpu", "h100", "--tp", "2"]
    args += ["--precision", "fp8", "--kv-precision", "fp8", "--engine", "tensorrt-llm"]
    args += ["--batch", "8", "--prompt-tokens", "1000", "--output-tokens", "200", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["total_ms"] == pytest.approx(body["prefill_ms"] + body["decode_ms"])
    assert body["decode_steps"] == 199
    assert body["output_tokens_per_s"] == pytest.approx(8 * 200 / body["total_ms"] * 1e3)
    assert (body["precision"], body["kv_precision"], body["engine"]) == (
        "fp8",
        "fp8",
        "tensorrt-llm",
    )


def test_throughput_json_contract_and_kv_flag() -> None:
    base = ["perf", "throughput", "-m", "llama-3.1-8b", "-g", "h100", "--tp", "1"]
    base += ["--prompt-tokens", "1000", "--output-tokens", "200", "--json"]
    docs = {}
    for kv in ("bf16", "fp8"):
        result = runner.invoke(app, [*base, "--kv-precision", kv])
        assert result.exit_code == 0, result.output
        docs[kv] = json.loads(result.stdout)
    for body in docs.values():
        assert body["output_tokens_per_s"] > 0 and body["batch"] >= 1
    assert docs["fp8"]["batch"] >= 2 * docs["bf16"]["batch"]
    err = _one_line_error([*base, "--kv-precision", "int8"])
    assert "kv" in err.lower()
