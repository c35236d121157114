"""Memory fit: does a model with a given number of cached tokens fit on each GPU?

Per GPU of a tensor-parallel group of size t::

    weights / t + KV_per_token / kv_shards · tokens_in_flight + runtime overhead <= capacity

Embeddings and the LM head are kept in bf16 whatever the weights' precision; KV heads shard
at most ``num_kv_heads`` ways, and MLA's latent cache is replicated on every rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import InvalidRequest
from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.precision import KV_BYTES_PER_VALUE, Precision, validate, weight_bytes_per_param


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


def kv_shards(model: ModelArch, tp: int) -> int:
    """How many ways the KV cache splits across a TP group."""
    if model.mla is not None:
        return 1
    return min(tp, model.num_kv_heads)


def weight_bytes(model: ModelArch, precision: str) -> float:
    """Bytes of all weights (whole model, not per GPU)."""
    embeddings = model.embedding_params * (1 if model.tied_embeddings else 2)
    matrices = model.total_params - embeddings - model.norm_params
    return matrices * weight_bytes_per_param(precision) + (embeddings + model.norm_params) * 2.0


def kv_bytes_per_token_per_gpu(model: ModelArch, tp: int) -> float:
    """KV-cache bytes one cached token takes on each GPU of the TP group."""
    return model.kv_bytes_per_token(KV_BYTES_PER_VALUE) / kv_shards(model, tp)


def memory_fit(
    model: ModelArch,
    gpu: Gpu,
    *,
    tokens_in_flight: int,
    tp: int = 1,
    precision: Precision = "bf16",
    calibration: Calibration | None = None,
) -> MemoryFit:
    """Weights, KV cache for ``tokens_in_flight`` cached tokens, and overhead per GPU."""
    validate(model, gpu, tp=tp, precision=precision)
    if isinstance(tokens_in_flight, bool) or tokens_in_flight < 0:
        raise InvalidRequest(
            f"tokens_in_flight must be >= 0, got {tokens_in_flight!r}", field="tokens_in_flight"
        )
    cal = calibration or default_calibration()
    weights_gb = weight_bytes(model, precision) / tp / 1e9
    kv_gb = tokens_in_flight * kv_bytes_per_token_per_gpu(model, tp) / 1e9
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
    )


def max_tokens_in_memory(
    model: ModelArch,
    gpu: Gpu,
    *,
    tp: int = 1,
    precision: Precision = "bf16",
    calibration: Calibration | None = None,
) -> int:
    """How many tokens of KV cache fit per replica after weights and overhead (0 if none)."""
    base = memory_fit(
        model, gpu, tokens_in_flight=0, tp=tp, precision=precision, calibration=calibration
    )
    free_bytes = (base.capacity_gb - base.total_gb) * 1e9
    if free_bytes <= 0:
        return 0
    return math.floor(free_bytes / kv_bytes_per_token_per_gpu(model, tp))
