"""End-to-end generation and throughput at load."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.catalog import gpu, model
from suanli.errors import Infeasible, InvalidRequest
from suanli.perf import decode_step, max_tokens_in_memory, memory_fit, prefill
from suanli.perf.generation import ENGINE_MAX_BATCH, generate, throughput

SHAPES = [
    ("Llama-3.1-8B", "H100-SXM", 1, "bf16", None, 8, 32, 128),
    ("Llama-3.1-70B", "H200-SXM", 4, "fp8", "fp8", 16, 1000, 300),
    ("Mixtral-8x7B", "A100-SXM-80GB", 2, "bf16", None, 4, 512, 65),
    ("DeepSeek-V3", "H200-SXM", 8, None, None, 2, 2048, 40),
    ("Qwen2.5-7B", "L40S", 1, "fp8", "fp8", 1, 7, 2),
    ("Llama-2-7B", "A100-SXM-80GB", 1, "bf16", None, 3, 100, 1),
    # Windowed and sparse attention: the steps are not affine in the context; each crosses
    # its window (gpt-oss 128-token band, Llama-4 8,192-token chunk, DeepSeek-V3.2 top-2,048).
    ("gpt-oss-120b", "H100-SXM", 1, None, None, 4, 100, 60),
    ("Llama-4-Scout-17B-16E", "H200-SXM", 4, None, "fp8", 2, 8150, 80),
    ("DeepSeek-V3.2", "H200-SXM", 8, None, None, 2, 2000, 100),
]


@pytest.mark.parametrize(("name", "card", "tp", "weights", "kv", "batch", "prompt", "out"), SHAPES)
def test_generate_is_the_prefill_plus_every_decode_step(
    name: str,
    card: str,
    tp: int,
    weights: str | None,
    kv: str | None,
    batch: int,
    prompt: int,
    out: int,
) -> None:
    arch, g = model(name), gpu(card)
    common: dict[str, object] = {"tp": tp, "precision": weights, "kv_precision": kv}
    est = generate(arch, g, batch=batch, prompt_tokens=prompt, output_tokens=out, **common)  # type: ignore[arg-type]
    first = prefill(arch, g, prompt_tokens=prompt, batch=batch, **common).prefill_ms  # type: ignore[arg-type]
    steps = [
        decode_step(arch, g, batch=batch, context=prompt + j, **common).step_ms  # type: ignore[arg-type]
        for j in range(out - 1)
    ]
    assert est.decode_steps == out - 1 == len(steps)
    assert est.prefill_ms == pytest.approx(first, rel=1e-12)
    assert est.decode_ms == pytest.approx(sum(steps), rel=1e-9)
    assert est.total_ms == pytest.approx(first + sum(steps), rel=1e-9)
    assert est.output_tokens_per_s == pytest.approx(batch * out / est.total_ms * 1e3)
    in_flight = batch * (prompt + out - 1)
    last = memory_fit(arch, g, tokens_in_flight=in_flight, sequences=batch, **common)  # type: ignore[arg-type]
    if out > 1:
        assert est.memory_gb == pytest.approx(last.total_gb)


def test_generate_checks_its_lengths() -> None:
    arch, g = model("Llama-3.1-8B"), gpu("H100-SXM")
    for field, bad in (("output_tokens", 0), ("prompt_tokens", -1), ("batch", 0)):
        args: dict[str, Any] = {"batch": 1, "prompt_tokens": 10, "output_tokens": 10, field: bad}
        with pytest.raises(InvalidRequest) as err:
            generate(arch, g, **args)
        assert err.value.context.get("field") == field


MEMORY_CASES = [
    ("Llama-3.1-8B", "H100-SXM", 1, "bf16", "bf16", 1000, 200),
    ("Llama-3.1-8B", "L40S", 1, "fp8", "fp8", 8000, 2000),
    ("Llama-3.1-70B", "H100-SXM", 2, "fp8", "bf16", 3000, 1000),
    ("Llama-3.1-70B", "A100-SXM-80GB", 4, "bf16", "bf16", 500, 500),
    ("Qwen3-30B-A3B", "H20", 1, "bf16", "fp8", 20000, 1000),
    ("DeepSeek-V3", "H200-SXM", 8, "fp8", "bf16", 4000, 1000),
    ("Mixtral-8x7B", "H200-SXM", 1, "bf16", "bf16", 32, 32),  # engine-capped
    ("gpt-oss-120b", "H100-SXM", 1, "mxfp4", "bf16", 4000, 1000),  # windowed layers
    ("Llama-4-Scout-17B-16E", "H200-SXM", 2, "bf16", "bf16", 20000, 2000),
]


@pytest.mark.parametrize(("name", "card", "tp", "weights", "kv", "prompt", "out"), MEMORY_CASES)
def test_throughput_never_exceeds_what_memory_allows(
    name: str, card: str, tp: int, weights: str, kv: str, prompt: int, out: int
) -> None:
    arch, g = model(name), gpu(card)
    common: dict[str, object] = {"tp": tp, "precision": weights, "kv_precision": kv}
    est = throughput(arch, g, prompt_tokens=prompt, output_tokens=out, **common)  # type: ignore[arg-type]
    sequence = prompt + out
    # Every sequence in flight can grow to its full length without running out of cache.
    full = memory_fit(arch, g, tokens_in_flight=est.batch * sequence, sequences=est.batch, **common)  # type: ignore[arg-type]
    assert full.fits
    if arch.attention_is_linear_in_context:
        assert est.batch * sequence <= max_tokens_in_memory(arch, g, **common)  # type: ignore[arg-type]
    assert est.batch <= ENGINE_MAX_BATCH
    if est.batch_limit == "memory":
        more = memory_fit(
            arch,
            g,
            tokens_in_flight=(est.batch + 1) * sequence,
            sequences=est.batch + 1,
            **common,  # type: ignore[arg-type]
        )
        assert not more.fits
    # No more tokens than the batch makes per decode step, and no more requests than prefills.
    fastest = min(
        decode_step(arch, g, batch=est.batch, context=c, **common).step_ms  # type: ignore[arg-type]
        for c in (prompt, prompt + out // 2, prompt + out - 1)
    )
    assert est.output_tokens_per_s * (out - 1) / out <= est.batch / fastest * 1e3 * (1 + 1e-9)
    assert est.requests_per_s * est.prefill_ms / 1e3 <= 1.0 + 1e-9


def test_throughput_rises_with_memory_room() -> None:
    arch = model("Llama-3.1-70B")
    small = throughput(
        arch, gpu("H100-SXM"), prompt_tokens=4000, output_tokens=1000, tp=2, precision="fp8"
    )
    big = throughput(
        arch, gpu("H200-SXM"), prompt_tokens=4000, output_tokens=1000, tp=2, precision="fp8"
    )
    assert big.batch > small.batch
    assert big.output_tokens_per_s > small.output_tokens_per_s


def test_throughput_says_when_not_one_sequence_fits() -> None:
    with pytest.raises(Infeasible) as err:
        throughput(model("Llama-3.1-70B"), gpu("L40S"), prompt_tokens=1000, output_tokens=100)
    assert "not one 1100-token sequence fits" in err.value.message


def test_short_prompts_share_their_prefill_pass() -> None:
    arch, g = model("Llama-3.1-8B"), gpu("H100-SXM")
    est = throughput(arch, g, prompt_tokens=128, output_tokens=64)
    together = 8192 // 128
    assert est.batch >= together
    shared = prefill(arch, g, prompt_tokens=128, batch=together).prefill_ms / together
    assert est.prefill_ms == pytest.approx(shared)
    alone = throughput(arch, g, prompt_tokens=128, output_tokens=64, prefill_chunk_tokens=128)
    assert alone.prefill_ms == pytest.approx(prefill(arch, g, prompt_tokens=128).prefill_ms)
    assert alone.output_tokens_per_s < est.output_tokens_per_s
