"""Physics of the step-time model: rooflines, tensor parallelism, precision, MoE, memory fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.catalog import gpu, model, reference_price
from suanli.errors import InvalidRequest
from suanli.perf import (
    decode_step,
    default_calibration,
    expected_experts_touched,
    max_tokens_in_memory,
    memory_fit,
    prefill,
)

if TYPE_CHECKING:
    from suanli.perf import Precision


def test_batch_one_decode_is_memory_bound_near_bytes_over_bandwidth() -> None:
    arch, card = model("llama-3.1-8b"), gpu("h100")
    est = decode_step(arch, card, batch=1, context=1000)
    assert est.bound == "memory"
    floor_ms = est.bytes_moved / (card.hbm_tb_s * 1e12) * 1e3
    # Weights alone are 16 GB: the floor is about 4.8 ms on 3.35 TB/s.
    assert 4.5 < floor_ms < 5.2
    # The streaming parts sit near the floor; the engine's fixed costs come on top.
    streaming_ms = est.step_ms - est.parts_ms["overhead"]
    assert floor_ms < streaming_ms < 1.4 * floor_ms
    assert floor_ms < est.step_ms < 1.8 * floor_ms


def test_long_prefill_is_compute_bound() -> None:
    arch, card = model("llama-3.1-8b"), gpu("h100")
    est = prefill(arch, card, prompt_tokens=8192)
    assert est.bound == "compute"
    floor_ms = est.flops / (card.bf16_tflops * 1e12) * 1e3
    assert floor_ms < est.prefill_ms < 2.5 * floor_ms


def test_parts_add_up_to_the_step() -> None:
    est = decode_step(model("qwen2.5-32b"), gpu("h200"), batch=16, context=2000, tp=2)
    assert sum(est.parts_ms.values()) == pytest.approx(est.step_ms)
    assert est.tokens_per_s == pytest.approx(16 / est.step_ms * 1e3)
    assert set(est.parts_ms) >= {"attn_proj", "attention", "mlp", "lm_head", "allreduce"}


def test_h20_cheaper_per_decoded_token_but_h100_faster_to_first_token() -> None:
    arch = model("llama-3.1-8b")
    h20, h100 = gpu("h20"), gpu("h100")

    def cny_per_million_tokens(card_name: str) -> float:
        est = decode_step(arch, gpu(card_name), batch=64, context=2048)
        assert est.fits
        price = reference_price(card_name).cny_per_gpu_hour
        return price / (est.tokens_per_s * 3600) * 1e6

    assert cny_per_million_tokens("h20") < cny_per_million_tokens("h100")
    assert (
        prefill(arch, h100, prompt_tokens=1000).prefill_ms
        < 0.5 * prefill(arch, h20, prompt_tokens=1000).prefill_ms
    )


def test_llama_70b_needs_two_gpus_on_h200_and_does_not_fit_80gb() -> None:
    arch = model("llama-3.1-70b")
    for name in ("h100", "a100", "h800"):
        fit = memory_fit(arch, gpu(name), tokens_in_flight=0)
        assert not fit.fits and fit.shortfall_gb > 50
    assert not memory_fit(arch, gpu("h200"), tokens_in_flight=0).fits
    two = memory_fit(arch, gpu("h200"), tokens_in_flight=100_000, tp=2)
    assert two.fits and two.shortfall_gb == 0
    est = decode_step(arch, gpu("h100"), batch=1, context=100)
    assert not est.fits and est.shortfall_gb > 0


def test_moe_batch_one_reads_far_fewer_bytes_than_its_parameters() -> None:
    for name, card, tp, precision in (
        ("qwen3-30b-a3b", "h100", 1, "bf16"),
        ("deepseek-v3", "h200", 8, "fp8"),
    ):
        arch = model(name)
        prec = cast("Precision", precision)
        one = decode_step(arch, gpu(card), batch=1, context=100, tp=tp, precision=prec)
        wb = 1.0 if precision == "fp8" else 2.0
        assert one.bytes_moved < 0.2 * arch.total_params * wb / tp
        big = decode_step(arch, gpu(card), batch=256, context=100, tp=tp, precision=prec)
        assert big.bytes_moved > 3 * one.bytes_moved


def test_expected_experts_touched() -> None:
    assert expected_experts_touched(128, 8, 1) == pytest.approx(8)
    assert expected_experts_touched(256, 8, 10_000) == pytest.approx(256)
    b = 16
    assert expected_experts_touched(64, 4, b) == pytest.approx(64 * (1 - (1 - 4 / 64) ** b))


def test_mla_cache_is_small_and_replicated_across_tp() -> None:
    arch = model("deepseek-r1")
    one = memory_fit(arch, gpu("h200"), tokens_in_flight=100_000, tp=8, precision="fp8")
    assert one.kv_cache_gb == pytest.approx(100_000 * 70_272 / 1e9)
    dense = memory_fit(model("llama-3.1-70b"), gpu("h200"), tokens_in_flight=100_000, tp=8)
    assert dense.kv_cache_gb == pytest.approx(100_000 * 327_680 / 8 / 1e9)


def test_cut_nvlink_and_pcie_show_in_allreduce() -> None:
    arch = model("llama-3.1-70b")

    def allreduce(name: str) -> float:
        return prefill(arch, gpu(name), prompt_tokens=4096, tp=8).allreduce_ms

    assert allreduce("h800") > 1.8 * allreduce("h100")  # 400 vs 900 GB/s NVLink
    assert allreduce("l40s") > 4 * allreduce("h800")  # PCIe only
    decode_h800 = decode_step(arch, gpu("h800"), batch=128, context=1000, tp=8)
    decode_h100 = decode_step(arch, gpu("h100"), batch=128, context=1000, tp=8)
    assert decode_h800.allreduce_ms > decode_h100.allreduce_ms
    assert decode_step(arch, gpu("h100"), batch=1, context=10, tp=1).allreduce_ms == 0


def test_tensor_parallelism_speeds_up_a_large_model() -> None:
    arch = model("llama-3.1-70b")
    times = [decode_step(arch, gpu("h100"), batch=8, context=1000, tp=t).step_ms for t in (2, 4, 8)]
    assert times[0] > times[1] > times[2]


def test_lower_precision_reads_fewer_bytes_and_runs_faster() -> None:
    arch, card = model("qwen2.5-32b"), gpu("h100")
    bf16 = decode_step(arch, card, batch=1, context=500)
    fp8 = decode_step(arch, card, batch=1, context=500, precision="fp8")
    int4 = decode_step(arch, card, batch=1, context=500, precision="int4")
    assert int4.bytes_moved < fp8.bytes_moved < bf16.bytes_moved
    assert int4.step_ms < fp8.step_ms < bf16.step_ms
    assert int4.memory_gb < fp8.memory_gb < bf16.memory_gb
    long_bf16 = prefill(arch, card, prompt_tokens=4096, tp=2)
    long_fp8 = prefill(arch, card, prompt_tokens=4096, tp=2, precision="fp8")
    long_int4 = prefill(arch, card, prompt_tokens=4096, tp=2, precision="int4")
    assert long_fp8.prefill_ms < long_bf16.prefill_ms < long_int4.prefill_ms


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"precision": "fp8", "card": "a100"}, "precision"),
        ({"precision": "fp4"}, "precision"),
        ({"tp": 3}, "tp"),
        ({"tp": 16}, "tp"),
        ({"batch": 0}, "batch"),
        ({"context": -1}, "context"),
    ],
)
def test_invalid_requests_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"batch": 1, "context": 10, "tp": 1, "precision": "bf16"}
    card = gpu(str(kwargs.pop("card", "h100")))
    args.update(kwargs)
    with pytest.raises(InvalidRequest) as info:
        decode_step(model("llama-3.1-8b"), card, **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_tp_must_divide_heads() -> None:
    with pytest.raises(InvalidRequest, match="28 attention heads"):
        prefill(model("qwen2.5-7b"), gpu("h100"), prompt_tokens=100, tp=8)


def test_max_tokens_in_memory_is_the_fit_boundary() -> None:
    arch, card = model("qwen2.5-32b"), gpu("h20")
    n = max_tokens_in_memory(arch, card)
    assert n > 10_000
    assert memory_fit(arch, card, tokens_in_flight=n).fits
    assert not memory_fit(arch, card, tokens_in_flight=n + 1).fits
    assert max_tokens_in_memory(model("llama-3.1-70b"), gpu("h100")) == 0
    assert max_tokens_in_memory(arch, card, tp=2) > 2 * n


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 256),
    context=st.integers(0, 32_000),
    name=st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b", "deepseek-v3"]),
)
def test_step_time_grows_with_batch_and_context(batch: int, context: int, name: str) -> None:
    arch, card = model(name), gpu("h200")
    tp = 8 if arch.mla else 1
    base = decode_step(arch, card, batch=batch, context=context, tp=tp)
    assert decode_step(arch, card, batch=batch + 1, context=context, tp=tp).step_ms > base.step_ms
    assert decode_step(arch, card, batch=batch, context=context + 64, tp=tp).step_ms > base.step_ms
    assert base.step_ms > 0 and base.tokens_per_s > 0


def test_small_batch_attention_without_split_kv_is_occupancy_bound() -> None:
    arch, card = model("llama-3.1-8b"), gpu("h200")
    split = default_calibration()
    unsplit = split.with_params(split_kv=False)
    one_split = decode_step(arch, card, batch=1, context=8192, calibration=split)
    one_unsplit = decode_step(arch, card, batch=1, context=8192, calibration=unsplit)
    assert one_unsplit.parts_ms["attention"] > 5 * one_split.parts_ms["attention"]
    big_split = decode_step(arch, card, batch=64, context=8192, calibration=split)
    big_unsplit = decode_step(arch, card, batch=64, context=8192, calibration=unsplit)
    assert big_unsplit.step_ms == pytest.approx(big_split.step_ms)


def test_every_catalog_model_on_every_gpu_gives_finite_times_or_a_clear_error() -> None:
    import math

    from suanli.catalog import gpus, models

    for arch in models():
        for card in gpus():
            for tp in (1, 2, 4, 8):
                for precision in ("bf16", "fp8", "int4"):
                    try:
                        d = decode_step(
                            arch, card, batch=4, context=512, tp=tp, precision=precision
                        )
                        p = prefill(arch, card, prompt_tokens=512, tp=tp, precision=precision)
                    except InvalidRequest as exc:
                        assert exc.field in ("precision", "tp")
                        continue
                    assert math.isfinite(d.step_ms) and d.step_ms > 0
                    assert math.isfinite(p.prefill_ms) and p.prefill_ms > 0
                    assert d.fits == (d.shortfall_gb == 0)


def test_engine_profiles_change_fixed_costs_only() -> None:
    from suanli.errors import NotFound
    from suanli.perf.calibration import DEFAULT_ENGINE

    arch, card = model("llama-2-70b"), gpu("a100")
    cal = default_calibration()
    assert cal.engine == DEFAULT_ENGINE == "vllm"
    assert set(cal.engine_names()) >= {"vllm", "tensorrt-llm", "lmdeploy", "nim", "pytorch"}
    default = prefill(arch, card, prompt_tokens=128, tp=4)
    assert default.engine == "vllm"
    assert prefill(arch, card, prompt_tokens=128, tp=4, engine="vllm") == default
    lmdeploy = prefill(arch, card, prompt_tokens=128, tp=4, engine="LMDeploy")
    trt = prefill(arch, card, prompt_tokens=128, tp=4, engine="tensorrt_llm")
    assert lmdeploy.engine == "lmdeploy" and trt.engine == "tensorrt-llm"
    # Same hardware work, different engine overheads and all-reduce latency.
    for name in ("attn_proj", "mlp", "attention", "lm_head"):
        assert lmdeploy.parts_ms[name] == pytest.approx(trt.parts_ms[name])
    assert lmdeploy.prefill_ms > trt.prefill_ms
    assert lmdeploy.parts_ms["overhead"] != trt.parts_ms["overhead"]
    # The PyTorch profile does not split the KV cache: batch-1 long-context attention is slow.
    torch_step = decode_step(arch, card, batch=1, context=8192, tp=4, engine="pytorch")
    vllm_step = decode_step(arch, card, batch=1, context=8192, tp=4)
    assert torch_step.parts_ms["attention"] > 3 * vllm_step.parts_ms["attention"]
    with pytest.raises(NotFound) as info:
        decode_step(arch, card, batch=1, context=10, tp=4, engine="llama.cpp")
    assert "vllm" in info.value.suggestions and "lmdeploy" in info.value.suggestions
