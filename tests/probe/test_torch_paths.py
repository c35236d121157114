"""The PyTorch measurement code on a CPU build of torch (skipped where torch is missing, as in
CI; the GPU path itself ran on the H200 device machine, see fixtures/h200_probe.json)."""

from __future__ import annotations

import pytest

from suanli.catalog import gpus
from suanli.probe.detect import DetectedGpu
from suanli.probe.measure import Budget
from suanli.probe.record import check_record

torch = pytest.importorskip("torch")


def test_cpu_suite_measures_what_a_cpu_can() -> None:
    from suanli.probe.torch_measure import gpu_suite

    results = {m.name: m for m in gpu_suite(torch, -1, Budget(60.0), quick=True, tiny=True)}
    assert results["bf16_matmul_tflops"].value is not None
    assert results["hbm_copy_tb_s"].value is not None
    assert results["decode_step_ms"].value is not None
    assert results["fp8_matmul_tflops"].skipped == "no FP8 tensor cores"
    assert results["h2d_gb_s"].skipped == "no GPU"


def test_random_decoder_decode_and_prefill_shapes() -> None:
    from suanli.probe.transformer import TINY, RandomDecoder

    with torch.inference_mode():
        model = RandomDecoder(TINY, device="cpu", dtype=torch.float32)
        cache = model.new_cache(3, 16)
        _tokens, step = model.decode_fn(3, 16, cache)
        logits = step()
        assert tuple(logits.shape) == (3, TINY.vocab)
        assert bool(torch.isfinite(logits).all())
        prefill = model.prefill_fn(8, model.new_cache(1, 8))
        assert tuple(prefill().shape) == (1, TINY.vocab)


def test_record_from_cpu_measurements_is_sealed() -> None:
    from suanli.probe.run import gpu_entry
    from suanli.probe.torch_measure import gpu_suite

    measurements = gpu_suite(torch, -1, Budget(60.0), quick=True, tiny=True)
    entry = gpu_entry(DetectedGpu(0, "NVIDIA H200", memory_mib=143771), measurements, gpus())
    assert entry["verdict"]["status"] == "degraded"  # a CPU is far below an H200
    from suanli.probe.record import build_record

    check_record(
        build_record(machine={}, gpus=[entry], mode="quick", tool_version="t", duration_s=1.0)
    )
