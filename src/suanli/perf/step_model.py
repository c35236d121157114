"""Step-time model: decode step and prefill time of a model on a GPU type.

A roofline per operator group. Each group g moves ``bytes_g`` through HBM and does
``flops_g`` on the tensor cores; its time on one GPU of a tensor-parallel group of size t is

    time_g = ( m_g^p + c_g^p )^(1/p)
    m_g = bytes_g / (BW · η_mem,g),   c_g = flops_g / (F_prec · η_flops,g)

where BW is the datasheet HBM bandwidth, F_prec the dense tensor peak for the precision, and
the η are calibrated efficiencies (:class:`~suanli.perf.calibration.Calibration`); p (the
roofline sharpness) blends the two sides near the ridge (p → ∞ is the plain max). The step is

    step = Σ_g time_g + allreduce + layers · layer_overhead + step_overhead

and a prefill adds its own fixed and per-layer costs (no CUDA graph, request set-up).
The fixed costs and the all-reduce latency belong to the serving engine (``engine``: one
profile per engine in the calibration, default :data:`~suanli.perf.calibration.DEFAULT_ENGINE`);
the efficiencies are shared by all engines.

Groups: ``attn_proj`` (QKV and output projections), ``attention`` (over the KV cache),
``indexer`` (DeepSeek-V3.2's sparse-attention indexer), ``mlp`` (dense MLP layers), ``moe``
(routed + shared experts + router), ``lm_head``. Local layers (sliding or chunked windows)
attend over at most their window; sparse attention over at most its top-k tokens.

Decode attention over the KV cache reaches less bandwidth when the batch has too few
(sequence, KV head) pairs to fill the GPU: see :func:`decode_attention_occupancy`.

The KV cache is read and written at its own precision (``kv_precision``: bf16 or fp8, 2 or 1
bytes per value), independent of the weights'; attention arithmetic runs at the bf16 peak.

Tensor parallelism shards every weight matrix t ways and adds two ring all-reduces of the
activations per layer, each costing ``2(t-1)/t · bytes / (link · η_ar) + latency`` over the
GPU's interconnect per direction (NVLink, or PCIe on PCIe-only cards). KV heads shard at most
``num_kv_heads`` ways; MLA's latent cache is shared by all heads, so every rank holds it all.

MoE: a batch of B tokens, each routed to k of E experts, touches in expectation
``E · (1 - (1 - k/E)^B)`` distinct experts per layer; only those experts' weights are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import InvalidRequest
from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.memory import MemoryFit, kv_shards, memory_fit
from suanli.perf.precision import (
    KvPrecision,
    Precision,
    kv_bytes_per_value,
    resolve_kv_precision,
    resolve_precision,
    validate,
    weight_bytes_per_param,
)

ACTIVATION_BYTES = 2.0  # activations and all-reduce messages in bf16


@dataclass(frozen=True, slots=True)
class DecodeEstimate:
    """One decode step of ``batch`` sequences with ``context`` tokens already cached.

    Times in ms for the whole step; ``bytes_moved`` and ``flops`` are per GPU; memory figures
    are per GPU; ``tokens_per_s`` is for the replica (all ``tp`` GPUs together).
    """

    step_ms: float
    tokens_per_s: float
    memory_gb: float
    fits: bool
    shortfall_gb: float
    bound: str  # memory | compute | communication | overhead
    allreduce_ms: float
    parts_ms: dict[str, float] = field(default_factory=dict)
    bytes_moved: float = 0.0
    flops: float = 0.0
    batch: int = 1
    context: int = 0
    tp: int = 1
    precision: str = "bf16"
    engine: str = ""
    kv_precision: str = "bf16"


@dataclass(frozen=True, slots=True)
class PrefillEstimate:
    """Prefill of ``batch`` prompts of ``prompt_tokens`` tokens each (time to first token
    without queueing)."""

    prefill_ms: float
    memory_gb: float
    fits: bool
    shortfall_gb: float
    bound: str
    allreduce_ms: float
    parts_ms: dict[str, float] = field(default_factory=dict)
    bytes_moved: float = 0.0
    flops: float = 0.0
    prompt_tokens: int = 0
    batch: int = 1
    tp: int = 1
    precision: str = "bf16"
    engine: str = ""
    kv_precision: str = "bf16"


def expected_experts_touched(num_experts: int, experts_per_token: int, tokens: int) -> float:
    """E · (1 - (1 - k/E)^B): expected distinct experts a batch of B tokens routes to."""
    return num_experts * (1.0 - (1.0 - experts_per_token / num_experts) ** tokens)


class _Roofline:
    """Accumulates operator groups for one forward pass on one GPU of a TP group."""

    def __init__(self, gpu: Gpu, precision: str, cal: Calibration) -> None:
        self.bw = gpu.hbm_tb_s * 1e12
        bf16 = gpu.bf16_tflops * 1e12
        self.peak = {
            "bf16": bf16,
            "fp8": gpu.fp8_tflops * 1e12,
            "int4": bf16 / cal.int4_dequant_factor,
            "mxfp4": bf16 / cal.int4_dequant_factor,
        }[precision]
        self.bf16_peak = bf16
        self.precision = precision
        self.cal = cal
        self.parts: dict[str, float] = {}
        self.memory_s = 0.0
        self.compute_s = 0.0
        self.bytes = 0.0
        self.flops = 0.0

    def add(
        self,
        name: str,
        nbytes: float,
        flops: float,
        *,
        attention: bool = False,
        bf16: bool = False,
        occupancy: float = 1.0,
    ) -> None:
        cal = self.cal
        mem_eff = (cal.attn_mem_efficiency * occupancy) if attention else cal.mem_efficiency
        peak = self.bf16_peak if (attention or bf16) else self.peak
        if attention:
            flop_eff = cal.attn_compute_efficiency
        elif self.precision == "fp8" and not bf16:
            flop_eff = cal.fp8_compute_efficiency
        else:
            flop_eff = cal.compute_efficiency
        t_mem = nbytes / (self.bw * mem_eff)
        t_flop = flops / (peak * flop_eff)
        p = cal.roofline_sharpness
        both = (t_mem**p + t_flop**p) ** (1.0 / p) if t_mem > 0 or t_flop > 0 else 0.0
        if t_mem >= t_flop:
            self.memory_s += both
        else:
            self.compute_s += both
        self.parts[name] = self.parts.get(name, 0.0) + both * 1e3
        self.bytes += nbytes
        self.flops += flops


def _gemms(r: _Roofline, m: ModelArch, precision: str, tokens: int, tp: int) -> None:
    """The weight GEMMs of one forward pass over ``tokens`` tokens, sharded ``tp`` ways.

    MXFP4 on an MoE model (as gpt-oss ships) quantizes only the routed experts; the other
    matrices stay in bf16."""
    wb = weight_bytes_per_param(precision)
    experts_only = precision == "mxfp4" and m.moe is not None
    dense_wb = 2.0 if experts_only else wb
    act = ACTIVATION_BYTES * tokens * m.hidden_size * m.num_layers / tp
    r.add(
        "attn_proj",
        m.attention_params_per_layer * m.num_layers * dense_wb / tp + 2 * act,
        2.0 * tokens * m.attention_params_per_layer * m.num_layers / tp,
        bf16=experts_only,
    )
    if m.num_dense_layers and m.dense_mlp_params:
        dense = m.dense_mlp_params * m.num_dense_layers
        r.add("mlp", dense * dense_wb / tp, 2.0 * tokens * dense / tp, bf16=experts_only)
    if m.moe is not None:
        e = m.moe
        touched = expected_experts_touched(e.num_experts, e.experts_per_token, tokens)
        read = touched * m.expert_params * wb + m.shared_expert_params * dense_wb
        per_layer_flops = tokens * (e.experts_per_token * m.expert_params + m.shared_expert_params)
        r.add(
            "moe",
            (read + m.router_params * 2.0) * m.num_moe_layers / tp,
            2.0 * (per_layer_flops + tokens * m.router_params) * m.num_moe_layers / tp,
        )
    # The LM head stays in bf16 in common fp8/int4 deployments.
    r.add(
        "lm_head", m.embedding_params * 2.0 / tp, 2.0 * tokens * m.embedding_params / tp, bf16=True
    )


def decode_attention_occupancy(
    model: ModelArch, gpu: Gpu, batch: int, tp: int, cal: Calibration
) -> float:
    """Fraction of the GPU a decode attention kernel keeps busy: one work unit per
    (sequence, KV head on this GPU), ``min(1, units / (SMs · units_per_sm))``.

    A batch-1 step over a long cache with 8 KV heads reads it with 8 thread blocks, far from
    the bandwidth a full GPU reaches (measured on an H200: 0.4 TB/s at batch 1, 3 TB/s at
    batch 8, full speed from batch 32, for Llama-3.1-8B at 8,192 tokens). Engines that split
    the cache across blocks (``calibration.split_kv``) fill the GPU at any batch.
    """
    if cal.split_kv:
        return 1.0
    kv_heads = max(1, model.num_kv_heads // kv_shards(model, tp))
    units = batch * kv_heads
    sms = gpu.sm_count or 100
    return min(1.0, units / (sms * cal.attn_units_per_sm))


def _attention_dims(m: ModelArch, *, absorbed: bool) -> tuple[int, int]:
    """(query-key width, value width) per head; MLA decode works in the latent space."""
    if m.mla is None:
        return m.head_dim, m.head_dim
    if absorbed:
        return m.mla.kv_lora_rank + m.mla.qk_rope_head_dim, m.mla.kv_lora_rank
    return m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim, m.mla.v_head_dim


def _allreduce_ms(m: ModelArch, gpu: Gpu, tokens: int, tp: int, cal: Calibration) -> float:
    """Two ring all-reduces per layer of ``tokens × hidden`` bf16 activations."""
    if tp == 1:
        return 0.0
    link_bytes_per_s = gpu.interconnect_gb_s / 2.0 * 1e9 * cal.allreduce_efficiency
    message = tokens * m.hidden_size * ACTIVATION_BYTES
    one = 2.0 * (tp - 1) / tp * message / link_bytes_per_s + cal.allreduce_latency_us * 1e-6
    return 2.0 * m.num_layers * one * 1e3


def _bound(r: _Roofline, allreduce_ms: float, overhead_ms: float) -> str:
    sides = {
        "memory": r.memory_s * 1e3,
        "compute": r.compute_s * 1e3,
        "communication": allreduce_ms,
        "overhead": overhead_ms,
    }
    return max(sides, key=lambda k: sides[k])


def _check_counts(**counts: int) -> None:
    for name, (value, minimum) in {
        k: (v, 0 if k == "context" else 1) for k, v in counts.items()
    }.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidRequest(
                f"{name} must be an integer >= {minimum}, got {value!r}", field=name
            )


def _precisions(
    model: ModelArch,
    gpu: Gpu,
    tp: int,
    precision: str | None,
    kv_precision: str | None,
    cal: Calibration,
) -> tuple[Precision, KvPrecision]:
    """(weights, KV cache) precisions after defaults, checked against the GPU and TP."""
    weights = resolve_precision(model, precision)
    kv = resolve_kv_precision(model, weights, kv_precision, cal)
    validate(model, gpu, tp=tp, precision=weights, kv_precision=kv)
    return weights, kv


def decode_step(
    model: ModelArch,
    gpu: Gpu,
    *,
    batch: int,
    context: int,
    tp: int = 1,
    precision: Precision | None = None,
    calibration: Calibration | None = None,
    engine: str | None = None,
    kv_precision: KvPrecision | None = None,
) -> DecodeEstimate:
    """Time of one decode step: ``batch`` sequences each emit one token, each attending over
    ``context`` cached tokens (plus its own).

    ``engine`` picks a serving engine's profile from the calibration (None: the calibration's
    own, the default profile); an unknown engine raises :class:`~suanli.errors.NotFound`.
    ``precision`` None: the checkpoint's declared one; ``kv_precision`` None: the default of
    :func:`~suanli.perf.precision.resolve_kv_precision`."""
    _check_counts(batch=batch, context=context)
    cal = (calibration or default_calibration()).for_engine(engine)
    weights, kv = _precisions(model, gpu, tp, precision, kv_precision, cal)
    r = _Roofline(gpu, weights, cal)
    _gemms(r, model, weights, batch, tp)
    kv_layer_bytes = (
        model.kv_values_per_token_per_layer * kv_bytes_per_value(kv) / kv_shards(model, tp)
    )
    qk, v = _attention_dims(model, absorbed=True)
    full, local = model.attended_tokens(context + 1)
    # token-layers each query attends to: full-attention layers over ``full`` cached tokens,
    # local (windowed) layers over ``local``; DeepSeek sparse attention: top-k on every layer
    attended = full * model.num_global_layers + local * model.local_attention_layers
    r.add(
        "attention",
        batch * attended * kv_layer_bytes,
        2.0 * batch * attended * model.num_heads / tp * (qk + v),
        attention=True,
        occupancy=decode_attention_occupancy(model, gpu, batch, tp, cal),
    )
    if model.indexer_heads:
        # The sparse-attention indexer scores every cached token: fp8 keys, one dot product
        # per indexer head.
        scanned = batch * (context + 1) * model.num_layers
        r.add(
            "indexer",
            scanned * model.indexer_bytes_per_token_per_layer,
            2.0 * scanned * model.indexer_heads * model.indexer_head_dim / tp,
            attention=True,
            occupancy=decode_attention_occupancy(model, gpu, batch, tp, cal),
        )
    allreduce = _allreduce_ms(model, gpu, batch, tp, cal)
    overhead = cal.step_overhead_ms + model.num_layers * cal.layer_overhead_us * 1e-3
    parts = dict(r.parts)
    parts["allreduce"] = allreduce
    parts["overhead"] = overhead
    step_ms = sum(parts.values())
    fit = memory_fit(
        model,
        gpu,
        tokens_in_flight=batch * (context + 1),
        tp=tp,
        precision=weights,
        calibration=cal,
        kv_precision=kv,
        sequences=batch,
    )
    return DecodeEstimate(
        step_ms=step_ms,
        tokens_per_s=batch / step_ms * 1e3,
        memory_gb=fit.total_gb,
        fits=fit.fits,
        shortfall_gb=fit.shortfall_gb,
        bound=_bound(r, allreduce, overhead),
        allreduce_ms=allreduce,
        parts_ms=parts,
        bytes_moved=r.bytes,
        flops=r.flops,
        batch=batch,
        context=context,
        tp=tp,
        precision=weights,
        engine=cal.engine,
        kv_precision=kv,
    )


def prefill(
    model: ModelArch,
    gpu: Gpu,
    *,
    prompt_tokens: int,
    batch: int = 1,
    tp: int = 1,
    precision: Precision | None = None,
    calibration: Calibration | None = None,
    engine: str | None = None,
    kv_precision: KvPrecision | None = None,
) -> PrefillEstimate:
    """Time to process ``batch`` prompts of ``prompt_tokens`` tokens in one forward pass
    (causal attention: each token attends over the tokens before it).

    ``engine``, ``precision`` and ``kv_precision`` as for :func:`decode_step`."""
    _check_counts(prompt_tokens=prompt_tokens, batch=batch)
    cal = (calibration or default_calibration()).for_engine(engine)
    weights, kv = _precisions(model, gpu, tp, precision, kv_precision, cal)
    tokens = batch * prompt_tokens
    r = _Roofline(gpu, weights, cal)
    _gemms(r, model, weights, tokens, tp)
    qk, v = _attention_dims(model, absorbed=False)
    full, local = model.causal_pairs(prompt_tokens)  # causal (query, key) pairs per layer
    pairs = batch * (full * model.num_global_layers + local * model.local_attention_layers)
    heads = model.num_heads / tp
    kv_write = (
        tokens * model.kv_values_per_token_per_layer * kv_bytes_per_value(kv) / kv_shards(model, tp)
    )
    qkv_read = tokens * heads * (2 * qk + v) * ACTIVATION_BYTES
    r.add(
        "attention",
        (kv_write + qkv_read) * model.num_layers,
        2.0 * pairs * heads * (qk + v),
        attention=True,
    )
    if model.indexer_heads:
        every = batch * prompt_tokens * (prompt_tokens + 1) / 2.0 * model.num_layers
        r.add(
            "indexer",
            tokens * model.indexer_bytes_per_token_per_layer * model.num_layers,
            2.0 * every * model.indexer_heads * model.indexer_head_dim / tp,
            attention=True,
        )
    allreduce = _allreduce_ms(model, gpu, tokens, tp, cal)
    overhead = (
        cal.step_overhead_ms
        + cal.prefill_overhead_ms
        + model.num_layers * (cal.layer_overhead_us + cal.prefill_layer_overhead_us) * 1e-3
    )
    parts = dict(r.parts)
    parts["allreduce"] = allreduce
    parts["overhead"] = overhead
    fit: MemoryFit = memory_fit(
        model,
        gpu,
        tokens_in_flight=tokens,
        tp=tp,
        precision=weights,
        calibration=cal,
        kv_precision=kv,
        sequences=batch,
    )
    return PrefillEstimate(
        prefill_ms=sum(parts.values()),
        memory_gb=fit.total_gb,
        fits=fit.fits,
        shortfall_gb=fit.shortfall_gb,
        bound=_bound(r, allreduce, overhead),
        allreduce_ms=allreduce,
        parts_ms=parts,
        bytes_moved=r.bytes,
        flops=r.flops,
        prompt_tokens=prompt_tokens,
        batch=batch,
        tp=tp,
        precision=weights,
        engine=cal.engine,
        kv_precision=kv,
    )
