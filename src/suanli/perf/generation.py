"""End-to-end generation and throughput at load, built from the step model.

**Generation** of a static batch: ``batch`` prompts of ``I`` tokens each are prefilled in one
forward pass, which yields every sequence's first token; each of the ``O - 1`` decode steps
that follow yields one more, attending over a context that grows from ``I`` to ``I + O - 2``
cached tokens::

    total = prefill(B, I) + Σ_{j=0}^{O-2} step(B, I + j)

When every layer attends over its whole context, a decode step's time is affine in that
context (the KV-cache read and the attention FLOPs both grow linearly, and the blended
roofline ``(m^p + c^p)^(1/p)`` is homogeneous of degree 1), so the sum is exactly
``(O - 1) · (step(B, I) + step(B, I + O - 2)) / 2``; with windowed or sparse attention
(gpt-oss, Llama-4, DeepSeek-V3.2) the steps are summed one by one. A test holds both to the
explicit sum.

**Throughput at load** (continuous batching at saturation): ``B`` sequences are in flight at
once, each admitted as soon as another finishes. ``B`` is the most whose KV cache fits when
every one of them reaches its full ``I + O`` tokens (no preemption), capped by the engine's
``max_batch``. Over a long time the replica prefills every request once and runs decode steps
of ``B`` tokens whose sequences sit at every point of their lives, costing the mean step over
the contexts ``I .. I + O - 1`` (for full attention: the step at ``I + O/2``), so (as
:func:`~suanli.perf.queueing.replica_capacity_rps`) it completes
``X = B / ((O - 1) step(B, I + O/2) + B prefill(I))`` requests/s and emits ``X · O`` output
tokens/s, all GPUs of the replica together. Short prompts are prefilled together, as many
as fit in one forward pass of ``prefill_chunk_tokens`` tokens, so each pays its share of that
pass (its fixed costs included).
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import Infeasible, InvalidRequest
from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.memory import max_sequences_in_memory, max_tokens_in_memory
from suanli.perf.precision import KvPrecision, Precision
from suanli.perf.queueing import replica_capacity_rps
from suanli.perf.step_model import DecodeEstimate, decode_step, prefill

ENGINE_MAX_BATCH = 1024  # the largest batch a serving engine schedules (vLLM max_num_seqs)
# Prompt tokens one forward pass prefills at most (vLLM's max_num_batched_tokens for its API
# server on 80 GB-class GPUs); short prompts are prefilled this many tokens at a time.
ENGINE_PREFILL_CHUNK_TOKENS = 8192


@dataclass(frozen=True, slots=True)
class GenerateEstimate:
    """A static batch generating ``output_tokens`` tokens per sequence; times in ms.

    ``output_tokens_per_s`` counts every sequence's tokens over ``total_ms`` (the replica,
    all ``tp`` GPUs together); ``memory_gb`` and ``fits`` are at the last step, the fullest.
    """

    total_ms: float
    prefill_ms: float
    decode_ms: float
    decode_steps: int
    first_step_ms: float
    last_step_ms: float
    tpot_ms: float  # mean decode step (0 when there is none)
    output_tokens_per_s: float
    memory_gb: float
    fits: bool
    shortfall_gb: float
    batch: int
    prompt_tokens: int
    output_tokens: int
    tp: int
    precision: str
    kv_precision: str
    engine: str


@dataclass(frozen=True, slots=True)
class ThroughputEstimate:
    """Continuous batching at saturation: ``batch`` sequences in flight, limited by
    ``batch_limit`` (``memory``: the KV cache of ``batch`` full-length sequences fills the
    GPUs; ``engine``: the engine's batch cap)."""

    output_tokens_per_s: float
    requests_per_s: float
    batch: int
    batch_limit: str
    max_batch_memory: int
    kv_tokens_capacity: int
    step_ms: float
    prefill_ms: float  # one prompt's share of a prefill pass
    decode_context: int
    tpot_ms: float  # decode step plus the prefills that interrupt it
    prompt_tokens: int
    output_tokens: int
    tp: int
    precision: str
    kv_precision: str
    engine: str


def _check_lengths(**counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequest(f"{name} must be an integer >= 1, got {value!r}", field=name)


def generate(
    model: ModelArch,
    gpu: Gpu,
    *,
    batch: int,
    prompt_tokens: int,
    output_tokens: int,
    tp: int = 1,
    precision: Precision | None = None,
    kv_precision: KvPrecision | None = None,
    calibration: Calibration | None = None,
    engine: str | None = None,
) -> GenerateEstimate:
    """Time for a static batch to generate ``output_tokens`` tokens each (module docstring)."""
    _check_lengths(batch=batch, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    cal = (calibration or default_calibration()).for_engine(engine)
    first = prefill(
        model,
        gpu,
        prompt_tokens=prompt_tokens,
        batch=batch,
        tp=tp,
        precision=precision,
        kv_precision=kv_precision,
        calibration=cal,
    )
    steps = output_tokens - 1

    def step(context: int) -> tuple[float, float, bool, float]:
        est = decode_step(
            model,
            gpu,
            batch=batch,
            context=context,
            tp=tp,
            precision=precision,
            kv_precision=kv_precision,
            calibration=cal,
        )
        return est.step_ms, est.memory_gb, est.fits, est.shortfall_gb

    if steps > 0 and model.attention_is_linear_in_context:
        first_ms, _, _, _ = step(prompt_tokens)
        last_ms, memory_gb, fits, shortfall = step(prompt_tokens + steps - 1)
        decode_ms = steps * (first_ms + last_ms) / 2.0
    elif steps > 0:
        times = [step(prompt_tokens + j)[0] for j in range(steps - 1)]
        last_ms, memory_gb, fits, shortfall = step(prompt_tokens + steps - 1)
        first_ms = times[0] if times else last_ms
        decode_ms = sum(times) + last_ms
    else:
        first_ms = last_ms = decode_ms = 0.0
        memory_gb, fits, shortfall = first.memory_gb, first.fits, first.shortfall_gb
    total = first.prefill_ms + decode_ms
    return GenerateEstimate(
        total_ms=total,
        prefill_ms=first.prefill_ms,
        decode_ms=decode_ms,
        decode_steps=steps,
        first_step_ms=first_ms,
        last_step_ms=last_ms,
        tpot_ms=decode_ms / steps if steps else 0.0,
        output_tokens_per_s=batch * output_tokens / total * 1e3,
        memory_gb=memory_gb,
        fits=fits,
        shortfall_gb=shortfall,
        batch=batch,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        tp=tp,
        precision=first.precision,
        kv_precision=first.kv_precision,
        engine=cal.engine,
    )


def throughput(
    model: ModelArch,
    gpu: Gpu,
    *,
    prompt_tokens: int,
    output_tokens: int,
    tp: int = 1,
    precision: Precision | None = None,
    kv_precision: KvPrecision | None = None,
    calibration: Calibration | None = None,
    engine: str | None = None,
    max_batch: int = ENGINE_MAX_BATCH,
    prefill_chunk_tokens: int = ENGINE_PREFILL_CHUNK_TOKENS,
) -> ThroughputEstimate:
    """Output tokens/s of one replica under continuous batching at saturation (module
    docstring). Raises :class:`~suanli.errors.Infeasible` when not even one full-length
    sequence fits beside the weights."""
    _check_lengths(
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        max_batch=max_batch,
        prefill_chunk_tokens=prefill_chunk_tokens,
    )
    cal = (calibration or default_calibration()).for_engine(engine)
    capacity = max_tokens_in_memory(
        model, gpu, tp=tp, precision=precision, kv_precision=kv_precision, calibration=cal
    )
    sequence = prompt_tokens + output_tokens
    by_memory = max_sequences_in_memory(
        model,
        gpu,
        tokens_per_sequence=sequence,
        tp=tp,
        precision=precision,
        kv_precision=kv_precision,
        calibration=cal,
    )
    if by_memory < 1:
        raise Infeasible(
            f"{model.name} on {tp}x {gpu.name}: not one {sequence}-token sequence fits beside "
            f"the weights (KV room for {capacity} tokens)",
            hint="Use more GPUs (--tp), a lower precision, or --kv-precision fp8.",
            context={"field": "tp", "kv_tokens_capacity": capacity},
        )
    batch = min(by_memory, max_batch)
    context = prompt_tokens + output_tokens // 2

    def step_at(ctx: int) -> DecodeEstimate:
        return decode_step(
            model,
            gpu,
            batch=batch,
            context=ctx,
            tp=tp,
            precision=precision,
            kv_precision=kv_precision,
            calibration=cal,
        )

    step = step_at(context)
    step_ms = step.step_ms
    if not model.attention_is_linear_in_context:
        last = prompt_tokens + output_tokens - 1
        points = sorted({round(prompt_tokens + k * (last - prompt_tokens) / 16) for k in range(17)})
        step_ms = sum(step_at(c).step_ms for c in points) / len(points)
    together = max(1, min(batch, prefill_chunk_tokens // prompt_tokens))
    first = prefill(
        model,
        gpu,
        prompt_tokens=prompt_tokens,
        batch=together,
        tp=tp,
        precision=precision,
        kv_precision=kv_precision,
        calibration=cal,
    )
    prefill_ms = first.prefill_ms / together  # each prompt's share of its pass
    decode_tokens = output_tokens - 1
    rps = replica_capacity_rps(
        max_batch=batch,
        step_s=step_ms / 1e3,
        prefill_mean_s=prefill_ms / 1e3,
        decode_tokens_mean=decode_tokens,
    )
    tpot_ms = step_ms + (batch * prefill_ms / decode_tokens if decode_tokens else prefill_ms)
    return ThroughputEstimate(
        output_tokens_per_s=rps * output_tokens,
        requests_per_s=rps,
        batch=batch,
        batch_limit="memory" if by_memory <= max_batch else "engine",
        max_batch_memory=by_memory,
        kv_tokens_capacity=capacity,
        step_ms=step_ms,
        prefill_ms=prefill_ms,
        decode_context=context,
        tpot_ms=tpot_ms,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        tp=tp,
        precision=step.precision,
        kv_precision=step.kv_precision,
        engine=cal.engine,
    )
