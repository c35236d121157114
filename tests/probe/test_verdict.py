"""Verdicts from recorded measurements: the real H200, relabelled and throttled cards."""

from __future__ import annotations

from typing import Any

from suanli.catalog import gpu, gpus
from suanli.probe.detect import DetectedGpu
from suanli.probe.identify import identify
from suanli.probe.measure import Measurement
from suanli.probe.verdict import check_figure, fit_score, judge, measures_like
from tests.probe.conftest import figures

H100 = DetectedGpu(0, "NVIDIA H100 80GB HBM3", memory_mib=81559, sm_count=132)
H200 = DetectedGpu(0, "NVIDIA H200", memory_mib=143771, sm_count=132)


def _recorded(record: dict[str, Any]) -> list[Measurement]:
    return [Measurement(**m) for m in record["gpus"][0]["measurements"]]


def test_the_measured_h200_is_verified(h200_record: dict[str, Any]) -> None:
    verdict = judge(identify(H200, gpus()), _recorded(h200_record), gpus(), memory_gib=140.4)
    assert verdict.status == "verified", verdict.reasons
    assert verdict.measures_like == ("H200-SXM",)
    by_name = {f.name: f for f in verdict.figures}
    assert 0.75 < (by_name["bf16_matmul_tflops"].fraction or 0) < 0.85
    assert 0.85 < (by_name["hbm_copy_tb_s"].fraction or 0) < 0.92


def test_an_h100_that_measures_like_an_h20_is_a_mismatch() -> None:
    # The BIOS says H100 80GB; the card computes at H20 speed with H20 bandwidth.
    measured = figures(bf16_matmul_tflops=118.0, fp8_matmul_tflops=200.0, hbm_copy_tb_s=3.6)
    verdict = judge(identify(H100, gpus()), measured, gpus(), memory_gib=79.6)
    assert verdict.status == "mismatch"
    assert verdict.measures_like == ("H20",)
    assert any("measures like H20" in r for r in verdict.reasons)
    assert any(r.startswith("bf16_matmul_tflops 118") for r in verdict.reasons)


def test_an_h100_with_400_gb_s_nvlink_measures_like_an_h800() -> None:
    # Peer copy of 160 GB/s one way: NVLink cut to 400 GB/s (bidirectional), H800-class.
    measured = figures(bf16_matmul_tflops=780.0, hbm_copy_tb_s=3.0, p2p_gb_s=160.0)
    verdict = judge(identify(H100, gpus()), measured, gpus(), memory_gib=79.6)
    assert verdict.status == "mismatch"
    assert verdict.measures_like == ("H800-SXM",)
    p2p = next(f for f in verdict.figures if f.name == "p2p_gb_s")
    assert p2p.status == "low" and p2p.datasheet == 450.0


def test_an_h100_that_computes_like_an_a800_is_a_mismatch() -> None:
    measured = figures(bf16_matmul_tflops=250.0, hbm_copy_tb_s=1.85, p2p_gb_s=160.0)
    verdict = judge(identify(H100, gpus()), measured, gpus(), memory_gib=79.6)
    assert verdict.status == "mismatch"
    assert "A800-SXM-80GB" in verdict.measures_like


def test_an_h100_without_peers_cannot_be_told_from_an_h800() -> None:
    # A single GPU: NVLink is not measured, so a healthy H100 stays verified.
    measured = figures(bf16_matmul_tflops=780.0, hbm_copy_tb_s=3.0)
    verdict = judge(identify(H100, gpus()), measured, gpus(), memory_gib=79.6)
    assert verdict.status == "verified"
    assert set(verdict.measures_like) == {"H100-SXM", "H800-SXM"}


def test_an_h200_at_half_bandwidth_is_degraded_not_relabelled() -> None:
    measured = figures(bf16_matmul_tflops=775.0, hbm_copy_tb_s=2.1)
    verdict = judge(identify(H200, gpus()), measured, gpus(), memory_gib=140.4)
    assert verdict.status == "degraded"
    assert any("hbm_copy_tb_s 2.1 TB/s is 44% of H200-SXM's 4.8" in r for r in verdict.reasons)


def test_a_low_host_link_only_warns() -> None:
    measured = figures(bf16_matmul_tflops=775.0, hbm_copy_tb_s=4.2, h2d_gb_s=12.0)
    verdict = judge(identify(H200, gpus()), measured, gpus(), memory_gib=140.4)
    assert verdict.status == "verified"
    assert any(r.startswith("h2d_gb_s 12") for r in verdict.reasons)


def test_a_driver_identity_mismatch_wins_over_good_figures() -> None:
    fake = DetectedGpu(0, "NVIDIA H200", memory_mib=81559, sm_count=132)
    measured = figures(bf16_matmul_tflops=775.0, hbm_copy_tb_s=4.2)
    verdict = judge(identify(fake, gpus()), measured, gpus(), memory_gib=79.6)
    assert verdict.status == "mismatch"
    assert any(r.startswith("memory_gib") for r in verdict.reasons)


def test_unknown_and_unmeasured() -> None:
    k80 = judge(identify(DetectedGpu(0, "Tesla K80"), gpus()), [], gpus())
    assert k80.status == "unknown"
    nothing = judge(identify(H200, gpus()), [], gpus(), memory_gib=140.4)
    assert nothing.status == "unmeasured"


def test_fp8_on_a_gpu_without_fp8_has_no_datasheet_figure() -> None:
    check = check_figure(gpu("A100"), figures(fp8_matmul_tflops=500.0)[0])
    assert check.status == "n/a"
    assert fit_score(gpu("A100"), {"fp8_matmul_tflops": 500.0}, None) >= 4.0


def test_fit_is_zero_at_the_typical_fraction() -> None:
    h200 = gpu("H200")
    exact = {"bf16_matmul_tflops": 0.8 * 989, "hbm_copy_tb_s": 0.9 * 4.8}
    assert fit_score(h200, exact, 141.0) < 1e-12
    like, scores = measures_like(gpus(), exact, 141.0)
    assert like == ("H200-SXM",) and scores["H200-SXM"] < min(
        s for n, s in scores.items() if n != "H200-SXM"
    )


def test_decode_step_is_judged_against_the_bandwidth_floor() -> None:
    m = Measurement("decode_step_ms", 1.7, "ms", detail={"weight_bytes": 2.28e9, "kv_bytes": 6.7e7})
    check = check_figure(gpu("H200"), m)
    assert check.datasheet is not None and abs(check.datasheet - 0.489) < 0.01
    assert check.status == "ok"
    slow = check_figure(gpu("H200"), Measurement("decode_step_ms", 9.0, "ms", detail=m.detail))
    assert slow.status == "low" and "bandwidth floor" in slow.note
