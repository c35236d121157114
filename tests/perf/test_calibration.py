"""Calibration: stored points carry their sources and engines, the shipped engine-aware fit
meets the accuracy target on every point, its stored validation matches the data, and the
fitting recovers known parameters."""

from __future__ import annotations

import dataclasses

import pytest

from suanli.catalog import gpu, model
from suanli.errors import DataFileError
from suanli.perf import Calibration, default_calibration
from suanli.perf import fit as fitting
from suanli.perf.calibration import ENGINE_PARAMS, calibration_from_dict
from suanli.perf.generation import throughput


def test_every_point_has_a_source_and_a_method() -> None:
    points = fitting.calibration_points()
    assert len(points) >= 40
    for p in points:
        assert p.source and p.method and p.measured_ms > 0
        assert p.kind in ("decode", "prefill", "generate")
    assert {p.gpu for p in points} >= {"A100-SXM-80GB", "H100-SXM", "H200-SXM", "L40S"}
    assert not any(p.split_kv for p in points if p.source_key == "suanli-h200")
    engines = {p.source_key: p.engine for p in points}
    assert engines == {
        "lmdeploy-a100": "lmdeploy",
        "nim-1.8-h100": "nim",
        "suanli-h200": "pytorch",
        "trtllm-v0.5": "tensorrt-llm",
        "vllm-nightly": "vllm",
    }
    assert all(p.engine == engines[p.source_key] for p in points)


def test_shipped_calibration_is_sane() -> None:
    cal = default_calibration()
    assert "fitted" in cal.source
    for name in ("mem_efficiency", "compute_efficiency", "attn_mem_efficiency"):
        assert 0.3 < getattr(cal, name) <= 1.0
    assert cal.step_overhead_ms >= 0 and cal.runtime_overhead_gb > 0
    assert cal.engine == "vllm" and cal.split_kv
    assert cal.profile().params() == next(p for p in cal.engines if p.name == "vllm").params()
    for profile in cal.engines:
        assert profile.description
        assert profile.split_kv == (profile.name != "pytorch")
        other = cal.for_engine(profile.name)
        assert other.mem_efficiency == cal.mem_efficiency  # shared
        assert other.profile().params() == profile.params()


def test_error_on_calibration_points_meets_the_target() -> None:
    rows = fitting.evaluate(fitting.calibration_points(), default_calibration())
    summary = fitting.summarize(rows)
    assert summary["points"] == len(rows) >= 85
    assert all(r.profile == r.engine for r in rows)
    assert summary["median_abs_error"] <= 0.10
    assert summary["max_abs_error"] <= 0.25
    own = summary["by_source"]["suanli-h200"]
    assert own["points"] >= 20
    assert own["median_abs_error"] <= 0.10 and own["max_abs_error"] <= 0.25


def test_stored_validation_matches_the_points_and_covers_every_source() -> None:
    points = fitting.calibration_points()
    summary = fitting.summarize(fitting.evaluate(points, default_calibration()))
    validation = fitting.stored_document()["validation"]
    stored = validation["summary"]
    assert stored["points"] == summary["points"]
    assert stored["median_abs_error"] == pytest.approx(summary["median_abs_error"], abs=1e-9)
    assert stored["max_abs_error"] == pytest.approx(summary["max_abs_error"], abs=1e-9)
    loso = validation["leave_one_source_out"]
    assert set(loso) == {p.source_key for p in points}
    for key, part in loso.items():
        assert part["points"] == sum(p.source_key == key for p in points)
        # Each source is its engine's only source: an unseen engine, default profile.
        assert part["engine_unseen"] and part["evaluated_with"] == "vllm"
        assert 0 < part["median_abs_error"] <= part["max_abs_error"]
    folds = validation["cross_validation"]
    assert folds["folds"] == 5 and folds["points"] == len(points)
    assert folds["median_abs_error"] <= folds["max_abs_error"]


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


FEW = ["mem_efficiency", "compute_efficiency", "step_overhead_ms", "prefill_overhead_ms"]


def test_engine_fit_shares_efficiencies_and_separates_overheads() -> None:
    points = [p for p in fitting.calibration_points() if p.source_key != "lmdeploy-a100"]
    points = [p for p in points if p.engine != "vllm"][::2]
    cal = fitting.fit(points, free=FEW)
    names = set(cal.engine_names())
    assert names == {p.engine for p in points} | {"vllm"}
    profiles = {p.name: p for p in cal.engines}
    # vLLM has no points here: its profile is the centre, the others move away from it.
    assert profiles["nim"].prefill_overhead_ms != profiles["pytorch"].prefill_overhead_ms
    assert not profiles["pytorch"].split_kv and profiles["vllm"].split_kv
    for name in names:
        assert cal.for_engine(name).compute_efficiency == cal.compute_efficiency
    rows = fitting.evaluate(points, cal)
    assert fitting.summarize(rows)["median_abs_error"] < 0.15
    # Terms not free stay at the prior for every engine.
    assert {p.layer_overhead_us for p in cal.engines} == {Calibration().layer_overhead_us}


def test_leave_one_source_out_uses_the_default_profile_for_unseen_engines() -> None:
    points = [p for p in fitting.calibration_points() if p.source_key != "lmdeploy-a100"][::3]
    # A second source measuring a seen engine keeps that engine's profile.
    twin = [
        dataclasses.replace(p, source_key="trt-twin")
        for p in points
        if p.source_key == "trtllm-v0.5"
    ][:2]
    seen: list[str] = []
    loso = fitting.leave_one_source_out(points + twin, free=FEW, progress=seen.append)
    assert sorted(seen) == sorted(loso) == sorted({p.source_key for p in points} | {"trt-twin"})
    assert loso["nim-1.8-h100"]["evaluated_with"] == "vllm"
    assert loso["nim-1.8-h100"]["engine_unseen"]
    assert loso["trt-twin"]["evaluated_with"] == "tensorrt-llm"
    assert not loso["trt-twin"]["engine_unseen"]
    folds = fitting.k_fold(points, folds=2, free=FEW)
    assert folds["points"] == len(points) and set(folds["by_source"]) < set(loso)
    unseen = fitting.evaluate(points[:3], default_calibration(), unseen=True)
    assert all(r.profile == "vllm" for r in unseen)


def test_calibration_documents_name_their_engine_errors() -> None:
    base = {"params": {"mem_efficiency": 0.8}, "default_engine": "vllm"}
    profile = {"split_kv": True, "params": dict.fromkeys(ENGINE_PARAMS, 1.0)}
    cal = calibration_from_dict({**base, "engines": {"vllm": profile, "TRT_LLM": profile}})
    assert cal.engine == "vllm" and cal.has_engine("trt-llm")
    with pytest.raises(DataFileError) as info:
        calibration_from_dict({**base, "engines": {"sglang": profile}})
    assert info.value.field == "default_engine"
    broken = {"split_kv": True, "params": {"step_overhead_ms": 1.0}}
    with pytest.raises(DataFileError) as info:
        calibration_from_dict({**base, "engines": {"vllm": broken}})
    assert info.value.field == "layer_overhead_us"


def test_serve_points_are_their_requests_over_the_rate_at_load() -> None:
    base = {
        "model": "gpt-oss-120b",
        "gpu": "h100",
        "kind": "serve",
        "batch": 500,
        "context": 2000,
        "output_tokens": 98,
        "tp": 2,
        "precision": "mxfp4",
        "measured_ms": 30750.0,
    }
    with pytest.raises(DataFileError) as info:
        fitting.parse_points([base])
    assert info.value.field == "requests"
    (point,) = fitting.parse_points([{**base, "requests": 500}])
    cal = default_calibration()
    rate = throughput(
        model("gpt-oss-120b"),
        gpu("h100"),
        prompt_tokens=2000,
        output_tokens=98,
        tp=2,
        precision="mxfp4",
        calibration=cal,
        max_batch=500,
    )
    assert fitting.predict_ms(point, cal) == pytest.approx(500 / rate.requests_per_s * 1e3)
    # Fewer requests than the engine's cap: never more in flight than were sent.
    (few,) = fitting.parse_points([{**base, "requests": 3}])
    assert fitting.predict_ms(few, cal) < fitting.predict_ms(point, cal)


def test_leave_one_source_out_is_stored_over_the_whole_set() -> None:
    validation = fitting.stored_document()["validation"]
    per_source = validation["leave_one_source_out"]
    overall = validation["leave_one_source_out_overall"]
    assert overall["sources"] == len(per_source)
    assert overall["points"] == sum(part["points"] for part in per_source.values())
    assert overall["max_abs_error"] == max(part["max_abs_error"] for part in per_source.values())
    assert overall["median_abs_error"] <= overall["max_abs_error"]


def test_held_out_points_are_cited_and_never_fitted() -> None:
    held = fitting.held_out_points()
    fitted = fitting.calibration_points()
    assert len(held) >= 10
    assert not {p.source_key for p in held} & {p.source_key for p in fitted}
    assert {p.kind for p in held} >= {"serve", "decode"}
    assert {p.model for p in held} >= {"gpt-oss-120b", "DeepSeek-V3.2"}  # MoE, mxfp4 and fp8
    for p in held:
        assert "GPUStack" in p.source and p.method and p.engine == "vllm"
    rows = fitting.evaluate(held, default_calibration())
    assert all(r.predicted_ms > 0 for r in rows)
