"""KV-cache precision: separate from the weights', in memory fit, decode attention and sizing;
its default from the checkpoint's quantization config and the engine profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from suanli.catalog import gpu, model
from suanli.catalog.hf_config import load_hf_config
from suanli.errors import DataFileError, InvalidRequest
from suanli.perf import decode_step, default_calibration, max_tokens_in_memory, memory_fit
from suanli.perf.generation import throughput
from suanli.perf.memory import kv_bytes_per_token_per_gpu
from suanli.perf.sizing import ServeRequest, size

if TYPE_CHECKING:
    from suanli.perf import Precision

CASES = [
    ("Llama-3.1-8B", "H100-SXM", 1, "fp8"),
    ("Llama-3.1-70B", "H200-SXM", 4, "fp8"),
    ("Qwen3-30B-A3B", "L40S", 2, "bf16"),
    ("DeepSeek-V3", "H200-SXM", 8, "fp8"),  # MLA: the latent cache, replicated on every rank
    ("Llama-2-13B", "A100-SXM-80GB", 2, "bf16"),
]


@pytest.mark.parametrize(("name", "card", "tp", "weights"), CASES)
def test_fp8_kv_halves_kv_bytes_and_doubles_the_tokens_that_fit(
    name: str, card: str, tp: int, weights: str
) -> None:
    arch, g = model(name), gpu(card)
    prec = cast("Precision", weights)
    bf16 = kv_bytes_per_token_per_gpu(arch, tp, "bf16")
    fp8 = kv_bytes_per_token_per_gpu(arch, tp, "fp8")
    assert fp8 == pytest.approx(bf16 / 2)
    fit16 = memory_fit(
        arch, g, tokens_in_flight=100_000, tp=tp, precision=prec, kv_precision="bf16"
    )
    fit8 = memory_fit(arch, g, tokens_in_flight=100_000, tp=tp, precision=prec, kv_precision="fp8")
    assert fit8.kv_cache_gb == pytest.approx(fit16.kv_cache_gb / 2)
    assert fit8.weights_gb == fit16.weights_gb  # the weights are untouched
    n16 = max_tokens_in_memory(arch, g, tp=tp, precision=prec, kv_precision="bf16")
    n8 = max_tokens_in_memory(arch, g, tp=tp, precision=prec, kv_precision="fp8")
    assert n16 > 0
    assert n8 in (2 * n16, 2 * n16 + 1)  # floor(2x) of the same free bytes


@pytest.mark.parametrize(("name", "card", "tp", "weights"), CASES)
def test_fp8_kv_raises_the_max_batch_at_load_accordingly(
    name: str, card: str, tp: int, weights: str
) -> None:
    arch, g = model(name), gpu(card)
    prec = cast("Precision", weights)
    common = {"prompt_tokens": 2000, "output_tokens": 500, "tp": tp, "precision": prec}
    b16 = throughput(arch, g, kv_precision="bf16", max_batch=10**9, **common)  # type: ignore[arg-type]
    b8 = throughput(arch, g, kv_precision="fp8", max_batch=10**9, **common)  # type: ignore[arg-type]
    assert b16.batch_limit == b8.batch_limit == "memory"
    assert b8.batch in (2 * b16.batch, 2 * b16.batch + 1)


def test_fp8_kv_halves_the_bytes_decode_attention_reads() -> None:
    arch, g = model("Llama-3.1-8B"), gpu("H100-SXM")
    args = {"batch": 32, "context": 8192, "precision": "fp8"}
    full = decode_step(arch, g, kv_precision="bf16", **args)  # type: ignore[arg-type]
    half = decode_step(arch, g, kv_precision="fp8", **args)  # type: ignore[arg-type]
    cache_read = 32 * 8193 * arch.kv_bytes_per_token(2.0)
    assert full.bytes_moved - half.bytes_moved == pytest.approx(cache_read / 2)
    assert half.parts_ms["attention"] < 0.6 * full.parts_ms["attention"]
    assert half.parts_ms["mlp"] == full.parts_ms["mlp"]
    assert (half.kv_precision, full.kv_precision) == ("fp8", "bf16")


def test_default_kv_precision_follows_the_engine_profile_for_fp8_weights() -> None:
    arch, g = model("Llama-3.1-70B"), gpu("H100-SXM")
    cal = default_calibration()
    assert not cal.fp8_kv_with_fp8_weights  # vLLM keeps a 16-bit cache by default
    args: dict[str, Any] = {"batch": 8, "context": 1024, "tp": 2}
    assert decode_step(arch, g, precision="fp8", **args).kv_precision == "bf16"
    trt = decode_step(arch, g, precision="fp8", engine="tensorrt-llm", **args)
    assert trt.kv_precision == "fp8"
    assert (
        decode_step(arch, g, precision="bf16", engine="tensorrt-llm", **args).kv_precision == "bf16"
    )


def test_checkpoint_declares_weights_and_kv_cache_precision() -> None:
    base = {
        "model_type": "llama",
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "vocab_size": 128256,
    }
    plain = load_hf_config(base)
    assert (plain.weight_precision, plain.kv_precision) == ("bf16", "bf16")
    fp8_kv = load_hf_config(
        {
            **base,
            "quantization_config": {
                "quant_method": "compressed-tensors",
                "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}}},
                "kv_cache_scheme": {"num_bits": 8, "type": "float"},
            },
        }
    )
    assert (fp8_kv.weight_precision, fp8_kv.kv_precision) == ("fp8", "fp8")
    # A declared fp8 cache is the default even on an engine that keeps bf16 for fp8 weights.
    est = decode_step(fp8_kv, gpu("H100-SXM"), batch=4, context=512)
    assert (est.precision, est.kv_precision) == ("fp8", "fp8")
    with pytest.raises(DataFileError) as err:
        load_hf_config({**base, "quantization_config": {"quant_method": "bitsandbytes"}})
    assert err.value.context.get("field") == "quantization_config"


def test_deepseek_v3_defaults_to_its_fp8_checkpoint_and_fits_8x_h200() -> None:
    arch = model("DeepSeek-V3")
    assert arch.weight_precision == "fp8"
    fit = memory_fit(arch, gpu("H200-SXM"), tokens_in_flight=8192, tp=8)
    assert fit.precision == "fp8" and fit.fits
    assert not memory_fit(arch, gpu("H200-SXM"), tokens_in_flight=8192, tp=8, precision="bf16").fits
    request = ServeRequest(
        model="deepseek-v3", rate_per_s=1.0, ttft_ms=5000, tpot_ms=200,
        prompt_tokens=1000, output_tokens=200,
    )  # fmt: skip
    sizing = size(request, [gpu("H200-SXM")], {"H200-SXM": 20.0}, heterogeneous=False)
    assert sizing.request.precision == "fp8"
    assert any(c.gpu == "H200-SXM" and c.tp == 8 for c in sizing.configs)


def test_sizing_carries_the_kv_precision_and_fp8_kv_allows_a_larger_batch() -> None:
    common = {
        "model": "llama-3.1-70b",
        "rate_per_s": 5.0,
        "ttft_ms": 10_000,
        "tpot_ms": 2000,
        "prompt_tokens": 4000,
        "output_tokens": 1000,
        "precision": "fp8",
    }
    cards = [gpu("H100-SXM")]
    prices = {"H100-SXM": 15.0}
    a = size(ServeRequest(**common), cards, prices, heterogeneous=False)  # type: ignore[arg-type]
    b = size(ServeRequest(**common, kv_precision="fp8"), cards, prices, heterogeneous=False)  # type: ignore[arg-type]
    by_tp = {c.tp: c for c in a.configs}
    for c in b.configs:
        assert c.kv_precision == "fp8"
        if c.tp in by_tp:
            assert by_tp[c.tp].kv_precision == "bf16"
            assert c.max_batch >= by_tp[c.tp].max_batch
    with pytest.raises(InvalidRequest) as err:
        size(ServeRequest(**common, kv_precision="int8"), cards, prices)  # type: ignore[arg-type]
    assert err.value.context.get("field") == "kv_precision"
