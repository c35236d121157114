"""Memory fit: does a model with a given number of cached tokens fit on each GPU?

Per GPU of a tensor-parallel group of size t::

    weights / t + KV_per_token / kv_shards · tokens_in_flight + runtime overhead <= capacity

KV_per_token counts ``kv_bytes_per_value(kv_precision)`` bytes per cached element (fp8: half
of bf16), whatever the weights' precision. Embeddings and the LM head are kept in bf16
whatever the weights' precision; KV heads shard at most ``num_kv_heads`` ways, and MLA's
latent cache is replicated on every rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import InvalidRequest
from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.precision import (
    KvPrecision,
    Precision,
    kv_bytes_per_value,
    resolve_kv_precision,
    resolve_precision,
    validate,
    weight_bytes_per_param,
)


@dataclass(frozen=True, slots=True)
class MemoryFit:
    """Memory per GPU, in GB (1e9 bytes, as the GPU catalog counts)."""

    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float
    total_gb: float
    capacity_gb: float
    fits: bool
    shortfall_gb: float  # 0 when it fits
    precision: str = "bf16"
    kv_precision: str = "bf16"


def kv_shards(model: ModelArch, tp: int) -> int:
    """How many ways the KV cache splits across a TP group."""
    if model.mla is not None:
        return 1
    return min(tp, model.num_kv_heads)


def quantized_params(model: ModelArch, precision: str) -> int:
    """Weights stored at ``precision``: every matrix but the embeddings and the LM head, or
    for MXFP4 (as gpt-oss ships it) only the routed experts of an MoE model."""
    embeddings = model.embedding_params * (1 if model.tied_embeddings else 2)
    if precision == "mxfp4" and model.moe is not None:
        return model.moe.num_experts * model.expert_params * model.num_moe_layers
    return model.total_params - embeddings - model.norm_params


def weight_bytes(model: ModelArch, precision: str) -> float:
    """Bytes of all weights (whole model, not per GPU); unquantized ones in bf16."""
    quantized = quantized_params(model, precision)
    return quantized * weight_bytes_per_param(precision) + (model.total_params - quantized) * 2.0


def kv_cache_bytes_per_gpu(
    model: ModelArch, tp: int, kv_precision: str, tokens: int, sequences: int = 0
) -> float:
    """KV-cache bytes per GPU for ``tokens`` cached tokens in ``sequences`` sequences. Local
    (windowed) layers keep at most their window per sequence; with ``sequences`` 0 (unknown)
    they are counted as if they kept every token, an upper bound."""
    b = kv_bytes_per_value(kv_precision)
    total = tokens * model.kv_bytes_per_token(b)
    if model.local_attention_layers:
        kept = tokens if sequences <= 0 else min(tokens, sequences * model.local_attention_window)
        total += kept * model.local_attention_layers * model.kv_values_per_token_per_layer * b
    return total / kv_shards(model, tp)


def kv_bytes_per_token_per_gpu(model: ModelArch, tp: int, kv_precision: str = "bf16") -> float:
    """KV-cache bytes one cached token takes on each GPU of the TP group (local layers
    counted in full: an upper bound for windowed models)."""
    return kv_cache_bytes_per_gpu(model, tp, kv_precision, 1)


def memory_fit(
    model: ModelArch,
    gpu: Gpu,
    *,
    tokens_in_flight: int,
    tp: int = 1,
    precision: Precision | None = None,
    calibration: Calibration | None = None,
    kv_precision: KvPrecision | None = None,
    engine: str | None = None,
    sequences: int = 0,
) -> MemoryFit:
    """Weights, KV cache for ``tokens_in_flight`` cached tokens (in ``sequences`` sequences,
    when known: windowed layers keep at most their window each), and overhead per GPU.

    ``precision`` None: the checkpoint's declared precision; ``kv_precision`` None: see
    :func:`~suanli.perf.precision.resolve_kv_precision` (``engine``'s profile decides)."""
    cal = (calibration or default_calibration()).for_engine(engine)
    weights = resolve_precision(model, precision)
    kv = resolve_kv_precision(model, weights, kv_precision, cal)
    validate(model, gpu, tp=tp, precision=weights, kv_precision=kv)
    if isinstance(tokens_in_flight, bool) or tokens_in_flight < 0:
        raise InvalidRequest(
            f"tokens_in_flight must be >= 0, got {tokens_in_flight!r}", field="tokens_in_flight"
        )
    weights_gb = weight_bytes(model, weights) / tp / 1e9
    kv_gb = kv_cache_bytes_per_gpu(model, tp, kv, tokens_in_flight, sequences) / 1e9
    overhead_gb = cal.runtime_overhead_gb
    total = weights_gb + kv_gb + overhead_gb
    return MemoryFit(
        weights_gb=weights_gb,
        kv_cache_gb=kv_gb,
        overhead_gb=overhead_gb,
        total_gb=total,
        capacity_gb=gpu.memory_gb,
        fits=total <= gpu.memory_gb,
        shortfall_gb=max(0.0, total - gpu.memory_gb),
        precision=weights,
        kv_precision=kv,
    )


def max_tokens_in_memory(
    model: ModelArch,
    gpu: Gpu,
    *,
    tp: int = 1,
    precision: Precision | None = None,
    calibration: Calibration | None = None,
    kv_precision: KvPrecision | None = None,
    engine: str | None = None,
) -> int:
    """How many tokens of KV cache fit per replica after weights and overhead (0 if none)."""
    base = memory_fit(
        model,
        gpu,
        tokens_in_flight=0,
        tp=tp,
        precision=precision,
        calibration=calibration,
        kv_precision=kv_precision,
        engine=engine,
    )
    free_bytes = (base.capacity_gb - base.total_gb) * 1e9
    if free_bytes <= 0:
        return 0
    return math.floor(free_bytes / kv_bytes_per_token_per_gpu(model, tp, base.kv_precision))


def max_sequences_in_memory(
    model: ModelArch,
    gpu: Gpu,
    *,
    tokens_per_sequence: int,
    tp: int = 1,
    precision: Precision | None = None,
    calibration: Calibration | None = None,
    kv_precision: KvPrecision | None = None,
    engine: str | None = None,
) -> int:
    """How many sequences of ``tokens_per_sequence`` cached tokens fit per replica (0 if
    none): windowed layers keep at most their window per sequence."""
    base = memory_fit(
        model,
        gpu,
        tokens_in_flight=0,
        tp=tp,
        precision=precision,
        calibration=calibration,
        kv_precision=kv_precision,
        engine=engine,
    )
    free_bytes = (base.capacity_gb - base.total_gb) * 1e9
    one = kv_cache_bytes_per_gpu(model, tp, base.kv_precision, tokens_per_sequence, 1)
    if free_bytes <= 0 or one <= 0:
        return 0
    return math.floor(free_bytes / one)
