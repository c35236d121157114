"""One serving replica: a (model, GPU type, TP) configuration against a request.

The request (:class:`ServeRequest`), a configuration that meets it (:class:`Config`) or why
none does (:class:`Rejection`), and the steps of :mod:`suanli.perf.sizing` for one
candidate (:class:`Candidate`: fit, max batch, throughput; :func:`configure`: replicas and
cost). :mod:`suanli.perf.sizing` runs them over every GPU type and TP degree, and
:mod:`suanli.perf.hetero` over length buckets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.catalog.traces import Trace
from suanli.defaults import DEFAULT_HEADROOM, DEFAULT_PERCENTILE, MAX_HEADROOM
from suanli.errors import InvalidRequest
from suanli.perf import (
    PRECISIONS,
    TP_DEGREES,
    KvPrecision,
    Precision,
    decode_step,
    memory_fit,
    prefill,
)
from suanli.perf.memory import max_sequences_in_memory
from suanli.perf.precision import KV_PRECISIONS, resolve_precision
from suanli.perf.queueing import (
    ReplicaLoad,
    TtftEstimate,
    effective_tpot_s,
    replica_capacity_rps,
    ttft,
)
from suanli.perf.workload import (
    Workload,
    workload_from_arrays,
    workload_from_means,
)

MAX_BATCH = 1024  # the largest batch a serving engine schedules (vLLM's max_num_seqs range)
MAX_REPLICAS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeRequest:
    """Serve ``model`` at ``rate_per_s`` with TTFT and TPOT targets at ``percentile``.

    Lengths come from ``trace`` when given, else from the means ``prompt_tokens`` and
    ``output_tokens``. ``headroom`` is the share of each replica's capacity kept free.
    """

    model: str
    rate_per_s: float
    ttft_ms: float
    tpot_ms: float
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    trace: Trace | None = None
    percentile: float = DEFAULT_PERCENTILE
    headroom: float = DEFAULT_HEADROOM
    precision: Precision | None = None
    network_rtt_ms: float = 0.0
    kv_precision: KvPrecision | None = None

    @property
    def compute_ttft_ms(self) -> float:
        """The TTFT left for prefill and queueing once the network's share is reserved."""
        return self.ttft_ms - self.network_rtt_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """One feasible configuration: R replicas of ``tp`` GPUs of type ``gpu``.

    ``ttft_ms`` is the TTFT at the request's percentile with queueing; ``prefill_ms`` the
    mean bare prefill and ``queue_ms`` the mean wait before it; ``tpot_ms`` the TPOT at full
    batch (an upper bound at the planned load).
    """

    gpu: str
    tp: int
    gpus_per_replica: int
    max_batch: int
    replicas: int
    gpus: int
    throughput_rps_per_replica: float
    ttft_ms: float
    prefill_ms: float
    queue_ms: float
    tpot_ms: float
    cost_cny_per_hour: float
    cost_cny_per_million_output_tokens: float
    price_cny_per_gpu_hour: float
    decode_step_ms: float
    utilisation: float  # load / capacity per replica
    batch_limit: str  # tpot | memory | engine
    replicas_limit: str  # throughput | ttft
    precision: str = "bf16"
    kv_precision: str = "bf16"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A (gpu, tp) with no configuration meeting the targets, and why."""

    gpu: str
    tp: int
    reason: str
    stage: int = 0  # how far it got: 0 price/precision, 1 fit, 2 TPOT, 3 TTFT

    def __iter__(self) -> Iterator[str | int]:
        """Unpacks as ``(gpu, tp, reason)``, the shape the contract names."""
        return iter((self.gpu, self.tp, self.reason))


# --- workload ---------------------------------------------------------------------------


def request_workload(request: ServeRequest) -> Workload:
    """The workload of a request: its trace's distributions, else its means."""
    if request.trace is not None:
        return workload_from_arrays(
            request.trace.prompt_tokens,
            request.trace.output_tokens,
            percentile=request.percentile,
            source=request.trace.name,
        )
    assert request.prompt_tokens is not None and request.output_tokens is not None
    return workload_from_means(request.prompt_tokens, request.output_tokens)


# --- validation -------------------------------------------------------------------------


def _positive(value: float | None, name: str, hint: str) -> None:
    if value is None or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{name} must be a number > 0, got {value!r}", field=name, hint=hint)


def validate_request(request: ServeRequest) -> None:
    """Reject a malformed request with a message naming the field and the allowed range."""
    _positive(request.rate_per_s, "rate_per_s", "Give the arrival rate in requests/s, e.g. 40.")
    _positive(request.ttft_ms, "ttft_ms", "Give the TTFT target in ms, e.g. 800.")
    _positive(request.tpot_ms, "tpot_ms", "Give the TPOT target in ms, e.g. 50.")
    reserve = request.network_rtt_ms
    if not (math.isfinite(reserve) and 0.0 <= reserve < request.ttft_ms):
        raise InvalidRequest(
            f"network_rtt_ms must be in [0, ttft_ms={request.ttft_ms:g}), got {reserve!r}",
            field="network_rtt_ms",
            hint="Reserve part of the TTFT target for the network, e.g. 40 ms.",
        )
    if not (0.0 < request.percentile < 100.0):
        raise InvalidRequest(
            f"percentile must be in (0, 100), got {request.percentile!r}",
            field="percentile",
            hint="Use e.g. 95 for p95.",
        )
    if not (0.0 <= request.headroom < MAX_HEADROOM):
        raise InvalidRequest(
            f"headroom must be in [0, 1), got {request.headroom!r}",
            field="headroom",
            hint="Use e.g. 0.2 to keep 20% of each replica's capacity free.",
        )
    if request.precision is not None and request.precision not in PRECISIONS:
        raise InvalidRequest(
            f"precision must be one of {', '.join(PRECISIONS)}, got {request.precision!r}",
            field="precision",
        )
    if request.kv_precision is not None and request.kv_precision not in KV_PRECISIONS:
        raise InvalidRequest(
            f"kv_precision must be one of {', '.join(KV_PRECISIONS)}, got {request.kv_precision!r}",
            field="kv_precision",
        )
    if request.trace is not None:
        if request.trace.size == 0:
            raise InvalidRequest("the trace has no requests", field="trace")
        return
    for name in ("prompt_tokens", "output_tokens"):
        value = getattr(request, name)
        if value is None:
            raise InvalidRequest(
                f"{name} is missing and no trace was given",
                field=name,
                hint="Give --prompt-tokens and --output-tokens (means), or --trace.",
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequest(f"{name} must be an integer >= 1, got {value!r}", field=name)


# --- one (gpu, tp) candidate ------------------------------------------------------------


class Candidate:
    """A (model, GPU type, TP) against a workload and a TPOT target: the max batch, the
    replica's capacity, and its TTFT at any load. Raises nothing; ``rejection`` says why
    it cannot serve."""

    def __init__(
        self,
        arch: ModelArch,
        gpu: Gpu,
        tp: int,
        workload: Workload,
        *,
        precision: Precision,
        tpot_target_ms: float,
        kv_precision: KvPrecision | None = None,
    ) -> None:
        self.arch, self.gpu, self.tp, self.workload = arch, gpu, tp, workload
        self.precision: Precision = precision
        self.kv_precision: KvPrecision | None = kv_precision
        self.rejection: Rejection | None = None
        self.max_batch = 0
        self.batch_limit = ""
        self.step_s = math.nan
        self.tpot_s = math.nan
        self.capacity_rps = 0.0
        self.step1_ms = math.nan
        self._steps_s: dict[int, float] = {}
        try:
            fit = memory_fit(
                arch,
                gpu,
                tokens_in_flight=workload.max_context,
                tp=tp,
                precision=precision,
                kv_precision=kv_precision,
                sequences=1,
            )
        except InvalidRequest as exc:
            self.rejection = Rejection(gpu.name, tp, exc.message, 0)
            return
        self.kv_precision = fit.kv_precision  # type: ignore[assignment]
        if not fit.fits:
            self.rejection = Rejection(
                gpu.name,
                tp,
                f"does not fit: needs {fit.shortfall_gb:.1f} GB more per GPU "
                f"({fit.total_gb:.1f} of {fit.capacity_gb:.0f} GB for weights and one "
                f"{workload.max_context}-token sequence)",
                1,
            )
            return
        pf = np.array([self._prefill_s(p) for p in workload.prompt_samples])
        self.prefill_samples_s = pf
        self.weights = np.asarray(workload.sample_weights)
        self.prefill_mean_s = float(np.dot(self.weights, pf) / self.weights.sum())
        ctx = workload.decode_context
        batch_memory = max_sequences_in_memory(
            arch,
            gpu,
            tokens_per_sequence=ctx + 1,
            tp=tp,
            precision=precision,
            kv_precision=self.kv_precision,
        )
        batch_cap = max(1, min(batch_memory, MAX_BATCH))
        target_s = tpot_target_ms / 1e3
        self.step1_ms = self._step_s(1) * 1e3
        if self._tpot_s(1) > target_s:
            self.rejection = Rejection(gpu.name, tp, self._tpot_reason(tpot_target_ms), 2)
            return
        lo, hi = 1, batch_cap  # invariant: tpot(lo) <= target
        if self._tpot_s(hi) <= target_s:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._tpot_s(mid) <= target_s:
                lo = mid
            else:
                hi = mid
        self.max_batch = lo
        if lo == batch_cap:
            self.batch_limit = "memory" if batch_memory <= MAX_BATCH else "engine"
        else:
            self.batch_limit = "tpot"
        self.step_s = self._step_s(lo)
        self.tpot_s = self._tpot_s(lo)
        self.capacity_rps = replica_capacity_rps(
            max_batch=lo,
            step_s=self.step_s,
            prefill_mean_s=self.prefill_mean_s,
            decode_tokens_mean=workload.decode_tokens_mean,
        )

    def _prefill_s(self, prompt_tokens: int) -> float:
        est = prefill(
            self.arch,
            self.gpu,
            prompt_tokens=prompt_tokens,
            tp=self.tp,
            precision=self.precision,
            kv_precision=self.kv_precision,
        )
        return est.prefill_ms / 1e3

    def _step_s(self, batch: int) -> float:
        if batch not in self._steps_s:
            est = decode_step(
                self.arch,
                self.gpu,
                batch=batch,
                context=self.workload.decode_context,
                tp=self.tp,
                precision=self.precision,
                kv_precision=self.kv_precision,
            )
            self._steps_s[batch] = est.step_ms / 1e3
        return self._steps_s[batch]

    def _tpot_s(self, batch: int) -> float:
        return effective_tpot_s(
            max_batch=batch,
            step_s=self._step_s(batch),
            prefill_mean_s=self.prefill_mean_s,
            decode_tokens_mean=self.workload.decode_tokens_mean,
        )

    def _tpot_reason(self, target_ms: float) -> str:
        total = self._tpot_s(1) * 1e3
        if self.step1_ms > target_ms:
            return f"TPOT {total:.0f} ms > {target_ms:.0f} ms even at batch 1"
        return (
            f"TPOT {total:.0f} ms > {target_ms:.0f} ms even at batch 1: the decode step is "
            f"{self.step1_ms:.0f} ms but prefills of {self.workload.prompt_mean:.0f}-token "
            "prompts interrupt it"
        )

    def ttft_at(self, rate_per_replica: float, quantile: float) -> TtftEstimate:
        """TTFT of one replica at ``rate_per_replica`` requests/s."""
        return ttft(
            ReplicaLoad(
                arrival_rate_per_s=rate_per_replica,
                max_batch=self.max_batch,
                step_s=self.step_s,
                prefill_s=self.prefill_samples_s,
                weights=self.weights,
                decode_tokens_mean=self.workload.decode_tokens_mean,
                decode_tokens_var=self.workload.decode_tokens_var,
            ),
            quantile,
        )

    def ttft_floor_s(self, quantile: float) -> float:
        """TTFT with no queueing: the ``quantile`` of the bare prefill time."""
        order = np.argsort(self.prefill_samples_s)
        cumulative = np.cumsum(self.weights[order]) / self.weights.sum()
        index = min(int(np.searchsorted(cumulative, quantile - 1e-12)), order.size - 1)
        return float(self.prefill_samples_s[order][index])

    def prefill_bound_reason(self, quantile: float, target_ms: float) -> str:
        floor_ms = self.ttft_floor_s(quantile) * 1e3
        return (
            f"TTFT {_ms_or_s(floor_ms)} > {_ms_or_s(target_ms)}: prefill-bound on "
            f"{self.gpu.name} (prefill of the p{quantile * 100:g} prompt, "
            f"{self.workload.prompt_at_percentile} tokens, with no queue)"
        )


def _ms_or_s(ms: float) -> str:
    return f"{ms / 1e3:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def smallest_passing(
    lo: int, passes: Callable[[int], bool], limit: int = MAX_REPLICAS
) -> int | None:
    """The smallest n >= lo with ``passes(n)`` for a predicate monotone in n (None if > limit)."""
    if passes(lo):
        return lo
    hi = lo
    while not passes(hi):
        if hi >= limit:
            return None
        lo, hi = hi, min(limit, hi * 2)
    while hi - lo > 1:  # passes(hi) and not passes(lo)
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi


def configure(
    cand: Candidate,
    *,
    rate_per_s: float,
    request: ServeRequest,
    price_cny_per_gpu_hour: float,
    output_mean: float,
) -> Config | Rejection:
    """Replicas, TTFT and cost of a candidate at ``rate_per_s`` (steps 3-5 of the module)."""
    if cand.rejection is not None:
        return cand.rejection
    q = request.percentile / 100.0
    target_ms = request.compute_ttft_ms
    target_s = target_ms / 1e3
    name, tp = cand.gpu.name, cand.tp
    if cand.ttft_floor_s(q) > target_s:
        return Rejection(name, tp, cand.prefill_bound_reason(q, target_ms), 3)
    usable_rps = cand.capacity_rps * (1.0 - request.headroom)
    by_throughput = max(1, math.ceil(rate_per_s / usable_rps - 1e-9))

    def meets_ttft(replicas: int) -> bool:
        return cand.ttft_at(rate_per_s / replicas, q).quantile_s <= target_s

    replicas = smallest_passing(by_throughput, meets_ttft)
    if replicas is None:
        return Rejection(name, tp, f"TTFT above {target_ms:.0f} ms at any replica count", 3)
    est = cand.ttft_at(rate_per_s / replicas, q)
    gpus = replicas * tp
    cost_h = gpus * price_cny_per_gpu_hour
    return Config(
        gpu=name,
        tp=tp,
        gpus_per_replica=tp,
        max_batch=cand.max_batch,
        replicas=replicas,
        gpus=gpus,
        throughput_rps_per_replica=cand.capacity_rps,
        ttft_ms=est.quantile_s * 1e3,
        prefill_ms=cand.prefill_mean_s * 1e3,
        queue_ms=est.mean_queue_s * 1e3,
        tpot_ms=cand.tpot_s * 1e3,
        cost_cny_per_hour=cost_h,
        cost_cny_per_million_output_tokens=cost_h / (rate_per_s * output_mean * 3600.0) * 1e6,
        price_cny_per_gpu_hour=price_cny_per_gpu_hour,
        decode_step_ms=cand.step_s * 1e3,
        utilisation=rate_per_s / replicas / cand.capacity_rps,
        batch_limit=cand.batch_limit,
        replicas_limit="throughput" if replicas == by_throughput else "ttft",
        precision=cand.precision,
        kv_precision=cand.kv_precision or "bf16",
    )


def candidates(
    arch: ModelArch, gpus: Sequence[Gpu], workload: Workload, request: ServeRequest
) -> list[Candidate]:
    """One candidate per (GPU type, TP degree)."""
    precision = resolve_precision(arch, request.precision)
    return [
        Candidate(
            arch,
            g,
            tp,
            workload,
            precision=precision,
            tpot_target_ms=request.tpot_ms,
            kv_precision=request.kv_precision,
        )
        for g in gpus
        for tp in TP_DEGREES
    ]
