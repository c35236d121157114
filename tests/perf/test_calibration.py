"""Calibration: stored points carry their sources, the shipped fit meets the accuracy target,
and the fitting recovers known parameters."""

from __future__ import annotations

import dataclasses

import pytest

from suanli.errors import DataFileError
from suanli.perf import Calibration, default_calibration
from suanli.perf import fit as fitting


def test_every_point_has_a_source_and_a_method() -> None:
    points = fitting.calibration_points()
    assert len(points) >= 40
    for p in points:
        assert p.source and p.method and p.measured_ms > 0
        assert p.kind in ("decode", "prefill", "generate")
    assert {p.gpu for p in points} >= {"A100-SXM-80GB", "H100-SXM", "H200-SXM", "L40S"}
    assert not any(p.split_kv for p in points if p.source_key == "suanli-h200")


def test_shipped_calibration_is_sane() -> None:
    cal = default_calibration()
    assert "fitted" in cal.source
    for name in ("mem_efficiency", "compute_efficiency", "attn_mem_efficiency"):
        assert 0.3 < getattr(cal, name) <= 1.0
    assert cal.step_overhead_ms >= 0 and cal.runtime_overhead_gb > 0


def test_error_on_calibration_points_meets_the_target() -> None:
    rows = fitting.evaluate(fitting.calibration_points(), default_calibration())
    summary = fitting.summarize(rows)
    assert summary["points"] == len(rows)
    assert summary["median_abs_error"] <= 0.10
    # The worst point (Llama-2-70B TP4 prefill of 128 tokens: lmdeploy 74 ms, TensorRT-LLM
    # 47 ms for the same configuration) cannot be met by any one model within 25%.
    assert summary["max_abs_error"] <= 0.35
    own = summary["by_source"]["suanli-h200"]
    assert own["points"] >= 20
    assert own["median_abs_error"] <= 0.10 and own["max_abs_error"] <= 0.25


def test_fit_recovers_known_parameters() -> None:
    truth = Calibration(
        mem_efficiency=0.8, compute_efficiency=0.6, attn_mem_efficiency=0.5, step_overhead_ms=0.5
    )
    points = [
        dataclasses.replace(p, measured_ms=fitting.predict_ms(p, truth))
        for p in fitting.calibration_points()[::3]
    ]
    fitted = fitting.fit(
        points,
        prior=Calibration(),
        free=[
            "mem_efficiency",
            "compute_efficiency",
            "attn_mem_efficiency",
            "step_overhead_ms",
        ],
    )
    rows = fitting.evaluate(points, fitted)
    assert fitting.summarize(rows)["median_abs_error"] < 0.02
    assert fitted.mem_efficiency == pytest.approx(0.8, rel=0.1)


def test_bad_point_files_name_the_field() -> None:
    with pytest.raises(DataFileError) as info:
        fitting.parse_points([{"model": "llama-3.1-8b", "gpu": "h200", "kind": "decode"}])
    assert info.value.field in ("batch", "context", "measured_ms")
    with pytest.raises(DataFileError) as info:
        fitting.parse_points(
            [
                {
                    "model": "llama-3.1-8b",
                    "gpu": "h200",
                    "kind": "train",
                    "batch": 1,
                    "context": 1,
                    "measured_ms": 1.0,
                }
            ]
        )
    assert info.value.field == "kind"
    with pytest.raises(DataFileError):
        fitting.parse_points({"points": "nope"})


def test_generate_points_need_output_tokens_and_sum_their_steps() -> None:
    base = {
        "model": "mixtral-8x7b",
        "gpu": "h200",
        "kind": "generate",
        "batch": 8,
        "context": 32,
        "tp": 2,
        "measured_ms": 1900.0,
    }
    with pytest.raises(DataFileError) as info:
        fitting.parse_points([base])
    assert info.value.field == "output_tokens"
    (point,) = fitting.parse_points([{**base, "output_tokens": 5}])
    cal = default_calibration()
    total = fitting.predict_ms(point, cal)
    prefill_only = fitting.predict_ms(dataclasses.replace(point, kind="prefill"), cal)
    steps = sum(
        fitting.predict_ms(dataclasses.replace(point, kind="decode", context=32 + i), cal)
        for i in range(4)
    )
    assert total == pytest.approx(prefill_only + steps)


def test_probe_format_points_parse() -> None:
    raw = [
        {
            "model": "Llama-3.1-8B",
            "gpu": "H200-SXM",
            "kind": "decode",
            "batch": 8,
            "context": 1024,
            "tp": 1,
            "precision": "bf16",
            "measured_ms": 7.5,
            "method": "CUDA-graph decode loop",
        }
    ]
    (point,) = fitting.parse_points(raw)
    assert point.gpu == "H200-SXM" and point.method == "CUDA-graph decode loop"
    assert fitting.predict_ms(point, default_calibration()) > 0


def test_per_engine_fit_shares_efficiencies_and_separates_overheads() -> None:
    points = [p for p in fitting.calibration_points() if p.source_key != "lmdeploy-a100"]
    engines = fitting.fit_per_engine(points[::2])
    assert set(engines) == {p.source_key for p in points[::2]}
    first, *rest = engines.values()
    for other in rest:
        assert other.mem_efficiency == first.mem_efficiency
        assert other.compute_efficiency == first.compute_efficiency
    rows = fitting.evaluate(points[::2], engines)
    assert fitting.summarize(rows)["median_abs_error"] < 0.15
