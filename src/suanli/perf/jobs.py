"""Sizing batch-inference and training jobs: GPU-hours, time on N GPUs, cost, fabric.

**Batch inference** has no latency target, so each replica runs the largest batch whose KV
cache fits (up to the engine's limit). A request of P prompt and O output tokens costs a
replica ``pf(P) + (O - 1) step(B, P + O/2) / B`` seconds, and ``tp`` times that in GPU-seconds.

**Training** takes ``6 P_active T`` FLOPs for T tokens (forward 2, backward 4 per parameter
and token), run at a model-FLOPs utilisation ``mfu`` of the dense tensor peak:
``GPU-hours = 6 P T / (peak x mfu) / 3600``. Mixed-precision Adam keeps ~16 bytes per
parameter (bf16 weights and gradients, fp32 master weights and two moments), sharded across
the GPUs (ZeRO-3/FSDP), which sets the fewest GPUs that can hold the job. More than one GPU
needs NVLink inside a node; more than 8 also InfiniBand (or RoCE) between nodes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suanli.catalog.gpus import Gpu
from suanli.errors import InvalidRequest
from suanli.perf import TP_DEGREES, Precision, decode_step, max_tokens_in_memory, prefill
from suanli.perf.sizing import MAX_BATCH, Rejection

TRAINING_BYTES_PER_PARAM = 16.0
USABLE_MEMORY_FRACTION = 0.85  # the rest goes to activations, buffers and fragmentation
GPUS_PER_NODE = 8


def _check_positive(value: float | None, name: str) -> None:
    if value is None or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{name} must be a number > 0, got {value!r}", field=name)


# --- batch inference --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchRequest:
    """``requests`` requests of mean ``prompt_tokens`` / ``output_tokens``, on ``gpus`` GPUs."""

    model: str
    requests: int
    prompt_tokens: int
    output_tokens: int
    gpus: int = 8
    deadline_h: float | None = None
    precision: Precision = "bf16"

    @property
    def total_tokens(self) -> int:
        return self.requests * (self.prompt_tokens + self.output_tokens)


@dataclass(frozen=True, slots=True)
class BatchEstimate:
    """A batch job on one GPU type at its best TP degree."""

    gpu: str
    tp: int
    batch: int
    gpu_hours: float
    gpus: int  # of the request's N, the ones used (whole replicas)
    hours: float  # wall-clock time on those GPUs
    cost_cny: float
    price_cny_per_gpu_hour: float
    tokens_per_s_per_gpu: float  # prompt + output tokens
    gpus_for_deadline: int | None
    meets_deadline: bool | None


def size_batch(
    request: BatchRequest, gpus: Sequence[Gpu], prices: Mapping[str, float]
) -> tuple[list[BatchEstimate], list[Rejection]]:
    """Per GPU type, the cheapest TP degree for the job, cheapest type first."""
    from suanli.catalog.models import model as lookup_model

    for name in ("requests", "prompt_tokens", "output_tokens", "gpus"):
        value = getattr(request, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequest(f"{name} must be an integer >= 1, got {value!r}", field=name)
    if request.deadline_h is not None:
        _check_positive(request.deadline_h, "deadline_h")
    arch = lookup_model(request.model)
    context = request.prompt_tokens + request.output_tokens // 2
    estimates: list[BatchEstimate] = []
    rejected: list[Rejection] = []
    for g in gpus:
        price = prices.get(g.name)
        if price is None or not price > 0:
            rejected.append(Rejection(g.name, 0, f"no price for {g.name}", 0))
            continue
        best: BatchEstimate | None = None
        reasons: list[Rejection] = []
        for tp in TP_DEGREES:
            try:
                kv_tokens = max_tokens_in_memory(arch, g, tp=tp, precision=request.precision)
            except InvalidRequest as exc:
                reasons.append(Rejection(g.name, tp, exc.message, 0))
                continue
            batch = min(MAX_BATCH, kv_tokens // (context + 1))
            if batch < 1:
                reasons.append(Rejection(g.name, tp, "does not fit one sequence", 1))
                continue
            if tp > request.gpus:
                reasons.append(Rejection(g.name, tp, f"needs {tp} GPUs, job has {request.gpus}", 1))
                continue
            step_s = (
                decode_step(
                    arch, g, batch=batch, context=context, tp=tp, precision=request.precision
                ).step_ms
                / 1e3
            )
            pf_s = (
                prefill(
                    arch, g, prompt_tokens=request.prompt_tokens, tp=tp, precision=request.precision
                ).prefill_ms
                / 1e3
            )
            replica_s = pf_s + (request.output_tokens - 1) * step_s / batch
            gpu_hours = request.requests * replica_s * tp / 3600.0
            replicas = request.gpus // tp
            hours = request.requests * replica_s / replicas / 3600.0
            deadline_gpus = meets = None
            if request.deadline_h is not None:
                replica_hours = request.requests * replica_s / 3600.0
                deadline_gpus = tp * math.ceil(replica_hours / request.deadline_h)
                meets = hours <= request.deadline_h
            est = BatchEstimate(
                gpu=g.name,
                tp=tp,
                batch=batch,
                gpu_hours=gpu_hours,
                gpus=replicas * tp,
                hours=hours,
                cost_cny=gpu_hours * price,
                price_cny_per_gpu_hour=price,
                tokens_per_s_per_gpu=request.total_tokens / (gpu_hours * 3600.0),
                gpus_for_deadline=deadline_gpus,
                meets_deadline=meets,
            )
            if best is None or est.gpu_hours < best.gpu_hours:
                best = est
        if best is None:
            rejected.extend(reasons)
        else:
            estimates.append(best)
    estimates.sort(key=lambda e: (e.cost_cny, e.hours, e.gpu))
    return estimates, rejected


# --- training ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingRequest:
    """Train a model (catalog name, or ``params``/``active_params`` counts) on ``tokens``."""

    tokens: float
    gpus: int
    model: str | None = None
    params: float | None = None  # total parameters (memory)
    active_params: float | None = None  # per token (FLOPs); defaults to params
    mfu: float = 0.4
    precision: Precision = "bf16"


@dataclass(frozen=True, slots=True)
class TrainingEstimate:
    """A training job on one GPU type."""

    gpu: str
    flops: float
    gpu_hours: float
    gpus: int
    hours: float
    cost_cny: float
    price_cny_per_gpu_hour: float
    min_gpus_for_memory: int
    fits: bool  # enough GPUs to hold the model states
    fabric_ok: bool  # the GPU type has the interconnect the job needs
    fabric: str  # none | nvlink | nvlink-ib
    min_interconnect_gb_s: float
    notes: tuple[str, ...]


def _training_params(request: TrainingRequest) -> tuple[float, float]:
    if request.model is not None:
        from suanli.catalog.models import model as lookup_model

        arch = lookup_model(request.model)
        return float(arch.total_params), float(arch.active_params)
    if request.params is None:
        raise InvalidRequest(
            "give a model or a parameter count",
            field="params",
            hint="Pass model='llama-3.1-8b' or params=8e9.",
        )
    _check_positive(request.params, "params")
    active = request.active_params if request.active_params is not None else request.params
    _check_positive(active, "active_params")
    return float(request.params), float(active)


def size_training(
    request: TrainingRequest, gpus: Sequence[Gpu], prices: Mapping[str, float]
) -> tuple[list[TrainingEstimate], list[Rejection]]:
    """Per GPU type: GPU-hours, time on the request's GPUs, cost and fabric; cheapest first."""
    _check_positive(request.tokens, "tokens")
    if isinstance(request.gpus, bool) or not isinstance(request.gpus, int) or request.gpus < 1:
        raise InvalidRequest(f"gpus must be an integer >= 1, got {request.gpus!r}", field="gpus")
    if not (0.0 < request.mfu <= 1.0):
        raise InvalidRequest(f"mfu must be in (0, 1], got {request.mfu!r}", field="mfu")
    if request.precision not in ("bf16", "fp8"):
        raise InvalidRequest("training precision must be bf16 or fp8", field="precision")
    total, active = _training_params(request)
    flops = 6.0 * active * request.tokens
    n = request.gpus
    out: list[TrainingEstimate] = []
    rejected: list[Rejection] = []
    for g in gpus:
        price = prices.get(g.name)
        if price is None or not price > 0:
            rejected.append(Rejection(g.name, 0, f"no price for {g.name}", 0))
            continue
        peak = g.fp8_tflops if request.precision == "fp8" else g.bf16_tflops
        if peak <= 0:
            rejected.append(Rejection(g.name, 0, f"{g.name} has no FP8 tensor cores", 0))
            continue
        gpu_hours = flops / (peak * 1e12 * request.mfu) / 3600.0
        usable = g.memory_gb * 1e9 * USABLE_MEMORY_FRACTION
        min_gpus = max(1, math.ceil(total * TRAINING_BYTES_PER_PARAM / usable))
        notes: list[str] = []
        if n == 1:
            fabric, link = "none", 0.0
        elif n <= GPUS_PER_NODE:
            fabric, link = "nvlink", 400.0
        else:
            fabric, link = "nvlink-ib", 400.0
            notes.append(
                f"{n} GPUs span {math.ceil(n / GPUS_PER_NODE)} nodes: needs InfiniBand or RoCE "
                "(>= 400 Gb/s per GPU) between nodes"
            )
        # A model that fits one GPU can train data-parallel over PCIe; a sharded one cannot.
        fabric_ok = n == 1 or g.has_nvlink or min_gpus == 1
        if n > 1 and not g.has_nvlink:
            notes.append(
                f"{g.name} has no NVLink: gradients and shards cross PCIe "
                f"({g.pcie_gb_s:.0f} GB/s); expect a lower MFU than {request.mfu:.0%}"
            )
        if n > 1 and g.cut and "nvlink" in g.cut.lower():
            notes.append(
                f"{g.name}: {g.cut}; keep tensor parallelism small (<= 4) and prefer "
                "pipeline or sharded data parallelism"
            )
        fits = n >= min_gpus
        if not fits:
            notes.append(
                f"model states need {total * TRAINING_BYTES_PER_PARAM / 1e9:.0f} GB: at least "
                f"{min_gpus} GPUs of {g.memory_gb:.0f} GB"
            )
        out.append(
            TrainingEstimate(
                gpu=g.name,
                flops=flops,
                gpu_hours=gpu_hours,
                gpus=n,
                hours=gpu_hours / n,
                cost_cny=gpu_hours * price,
                price_cny_per_gpu_hour=price,
                min_gpus_for_memory=min_gpus,
                fits=fits,
                fabric_ok=fabric_ok,
                fabric=fabric,
                min_interconnect_gb_s=link,
                notes=tuple(notes),
            )
        )
    out.sort(key=lambda e: (not (e.fits and e.fabric_ok), e.cost_cny, e.gpu))
    return out, rejected
