"""Per-(served workload, GPU type) replica profiles, from the product's own sizing.

A profile is what :mod:`suanli.perf.sizing` says about one replica, with one definition of
each term:

* **max batch, capacity, TPOT**: :class:`suanli.perf.sizing.Candidate` (the largest batch
  whose effective TPOT, decode step plus interrupting prefills, meets the target; the
  requests/s a replica completes with that batch full);
* **headroom**: the share of a replica's capacity kept free, as in
  :class:`~suanli.perf.sizing.ServeRequest`: a replica is planned at
  ``rps = capacity x (1 - headroom)`` requests/s;
* **TTFT with queueing**: :func:`suanli.perf.queueing.ttft` (M/G/c batch slots and an M/G/1
  prefill queue) at the planned load. Where that TTFT leaves less than the network reserve
  of the target (the scenario's longest city-to-site round trip, so that any site stays in
  reach; :data:`MIN_NETWORK_MS` where even an idle replica cannot leave that much), the
  planned load is lowered until it does, exactly as sizing adds replicas when TTFT binds
  (:attr:`~suanli.perf.sizing.ServeRequest.network_rtt_ms`);
* **RTT budget**: what the targets leave for one network round trip, as in
  :func:`suanli.placement.demands_from_sizing` (``target - TTFT``); for an agent task of
  ``n`` sequential calls, the task target shared over its calls, less each call's TTFT and
  the decode of a p95 output.

Per GPU type the tensor-parallel degree with the fewest GPUs per planned request/s is kept
(sizing's cheapest configuration at scale). The queueing waits are tabulated over loads so
that the simulator can draw each request's wait from the same model
(:mod:`suanli.sim.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from suanli import catalog
from suanli.catalog.traces import Trace, builtin_trace
from suanli.errors import SuanliError
from suanli.perf.queueing import ReplicaLoad, TtftEstimate, replica_capacity_rps, ttft
from suanli.perf.sizing import Candidate, ServeRequest, candidates, request_workload
from suanli.perf.workload import Workload as LengthStats
from suanli.sim.scenario import GivenProfile, ServedWorkload

PROMPT_GRID = (1, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
BATCH_GRID = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Per-replica load, as a share of the planned rate, at which queueing waits are tabulated.
LOAD_GRID = tuple(float(x) for x in np.linspace(0.0, 1.0, 21))
# The least a placement must leave the network: the "East Data, West Computing" plan's
# target for a cluster to its nearby cities (NDRC et al., 2022-02-17) is 5 ms.
MIN_NETWORK_MS = 5.0
PERCENTILE = 95.0


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """One replica of a served workload on one GPU type (see the module doc).

    ``slot_wait`` and ``prefill_wait`` hold, for each load in ``load_grid`` (per-replica
    arrivals as a share of ``rps``), the waits' ``(p_wait, conditional mean s, SCV)`` from
    :func:`suanli.perf.queueing.ttft`.
    """

    gpu: str
    gpus_per_replica: int
    max_batch: int
    capacity_rps: float
    rps: float
    ttft_ms: float
    tpot_ms: float
    step_ms: float
    prefill_mean_ms: float
    rtt_budget_ms: float
    decode_tokens_mean: float
    prompt_grid: tuple[float, ...]
    prefill_ms: tuple[float, ...]
    batch_grid: tuple[float, ...]
    step_grid_ms: tuple[float, ...]
    load_grid: tuple[float, ...]
    slot_wait: tuple[tuple[float, float, float], ...]
    prefill_wait: tuple[tuple[float, float, float], ...]
    source: str = "suanli.perf.sizing"


def serve_request(work: ServedWorkload, trace: Trace, headroom: float) -> ServeRequest:
    """The sizing request one replica of ``work`` answers (its rate is irrelevant here)."""
    return ServeRequest(
        model=work.model,
        rate_per_s=1.0,
        ttft_ms=work.ttft_p95_ms,
        tpot_ms=work.tpot_p95_ms,
        trace=trace,
        percentile=PERCENTILE,
        headroom=headroom,
        precision=work.precision,  # type: ignore[arg-type]
    )


class _Replica:
    """What a profile is computed from: sizing's candidate, or a scenario's given numbers."""

    def __init__(
        self,
        *,
        gpu: str,
        tp: int,
        max_batch: int,
        capacity_rps: float,
        tpot_s: float,
        step: Callable[[int], float],
        prefill: Callable[[int], float],
        stats: LengthStats,
        ttft_at: Callable[[float], TtftEstimate],
        source: str,
    ) -> None:
        self.gpu, self.tp, self.max_batch, self.capacity_rps = gpu, tp, max_batch, capacity_rps
        self.tpot_s, self.step, self.prefill, self.stats = tpot_s, step, prefill, stats
        self.ttft_at, self.source = ttft_at, source


def _from_candidate(cand: Candidate) -> _Replica | None:
    from suanli.perf import decode_step, prefill

    if cand.rejection is not None or cand.max_batch < 1:
        return None
    arch, gpu, tp, precision = cand.arch, cand.gpu, cand.tp, cand.precision
    kv = cand.kv_precision
    context = cand.workload.decode_context
    return _Replica(
        gpu=cand.gpu.name,
        tp=cand.tp,
        max_batch=cand.max_batch,
        capacity_rps=cand.capacity_rps,
        tpot_s=cand.tpot_s,
        step=lambda b: (
            decode_step(
                arch, gpu, batch=b, context=context, tp=tp, precision=precision, kv_precision=kv
            ).step_ms
            / 1e3
        ),
        prefill=lambda p: (
            prefill(
                arch, gpu, prompt_tokens=p, tp=tp, precision=precision, kv_precision=kv
            ).prefill_ms
            / 1e3
        ),
        stats=cand.workload,
        ttft_at=lambda rate: cand.ttft_at(rate, PERCENTILE / 100.0),
        source=f"suanli.perf.sizing ({cand.arch.name} {cand.precision}, tp={cand.tp})",
    )


def _from_given(given: GivenProfile, stats: LengthStats, source: str) -> _Replica:
    """A scenario's explicit replica: linear prefill and step times, its own capacity."""

    def prefill_s(p: int) -> float:
        return (given.prefill_fixed_ms + given.prefill_ms_per_1k_tokens * p / 1000.0) / 1e3

    def step_s(b: int) -> float:
        return (given.step_ms_at_batch_1 + given.step_ms_per_sequence * (b - 1)) / 1e3

    pf = np.array([prefill_s(p) for p in stats.prompt_samples])
    w = np.asarray(stats.sample_weights)
    pf_mean = float(np.dot(w, pf) / w.sum())
    capacity = given.rps or replica_capacity_rps(
        max_batch=given.max_batch,
        step_s=step_s(given.max_batch),
        prefill_mean_s=pf_mean,
        decode_tokens_mean=stats.decode_tokens_mean,
    )

    def ttft_at(rate: float) -> TtftEstimate:
        return ttft(
            ReplicaLoad(
                arrival_rate_per_s=rate,
                max_batch=given.max_batch,
                step_s=step_s(given.max_batch),
                prefill_s=pf,
                weights=w,
                decode_tokens_mean=stats.decode_tokens_mean,
                decode_tokens_var=stats.decode_tokens_var,
            ),
            PERCENTILE / 100.0,
        )

    tpot = step_s(given.max_batch) + given.max_batch * pf_mean / max(stats.decode_tokens_mean, 1e-9)
    return _Replica(
        gpu=given.gpu,
        tp=given.gpus_per_replica,
        max_batch=given.max_batch,
        capacity_rps=capacity,
        tpot_s=tpot,
        step=step_s,
        prefill=prefill_s,
        stats=stats,
        ttft_at=ttft_at,
        source=source,
    )


def network_reserve(rep: _Replica, target_ms: float, reach_ms: float) -> float | None:
    """The share of the TTFT target kept for the network: ``reach_ms`` if an idle replica
    leaves that much, else :data:`MIN_NETWORK_MS` (None: not even that: prefill-bound)."""
    idle_ms = rep.ttft_at(rep.capacity_rps * 1e-4).quantile_s * 1e3
    for reserve in (max(reach_ms, MIN_NETWORK_MS), MIN_NETWORK_MS):
        if idle_ms <= target_ms - reserve:
            return reserve
    return None


def _planned_rate(
    rep: _Replica, headroom: float, target_ms: float, reserve_ms: float
) -> tuple[float, float]:
    """(requests/s per replica, TTFT ms there): sizing's headroom, lowered where TTFT binds."""
    limit_s = (target_ms - reserve_ms) / 1e3
    rate = rep.capacity_rps * (1.0 - headroom)
    est = rep.ttft_at(rate)
    if est.quantile_s <= limit_s:
        return rate, est.quantile_s * 1e3
    lo, hi = rep.capacity_rps * 1e-4, rate
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if rep.ttft_at(mid).quantile_s <= limit_s:
            lo = mid
        else:
            hi = mid
    return lo, rep.ttft_at(lo).quantile_s * 1e3


def _tail(est: TtftEstimate) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    def one(t: object) -> tuple[float, float, float]:
        p = float(t.p_wait)  # type: ignore[attr-defined]
        m = float(t.conditional_mean_s)  # type: ignore[attr-defined]
        return (p, m if math.isfinite(m) else 1e9, float(t.conditional_scv))  # type: ignore[attr-defined]

    return one(est.slot_wait), one(est.prefill_wait)


def _profile(
    rep: _Replica, work: ServedWorkload, headroom: float, reach_ms: float
) -> ServiceProfile | None:
    reserve = network_reserve(rep, work.ttft_p95_ms, reach_ms)
    if reserve is None:
        return None
    rate, ttft_ms = _planned_rate(rep, headroom, work.ttft_p95_ms, reserve)
    budget = work.ttft_p95_ms - ttft_ms
    tpot_ms = rep.tpot_s * 1e3
    if work.calls_per_task > 1 and work.task_p95_ms > 0:
        decode_ms = max(rep.stats.output_at_percentile - 1, 0) * tpot_ms
        per_call = work.task_p95_ms / work.calls_per_task
        budget = min(budget, per_call - ttft_ms - decode_ms)
    if budget < MIN_NETWORK_MS:
        return None
    tails = [_tail(rep.ttft_at(rate * f)) for f in LOAD_GRID]
    batches = [b for b in BATCH_GRID if b < rep.max_batch] + [rep.max_batch]
    prefill_grid = [p for p in PROMPT_GRID]
    pf = np.array([rep.prefill(p) for p in rep.stats.prompt_samples])
    w = np.asarray(rep.stats.sample_weights)
    return ServiceProfile(
        gpu=rep.gpu,
        gpus_per_replica=rep.tp,
        max_batch=rep.max_batch,
        capacity_rps=rep.capacity_rps,
        rps=rate,
        ttft_ms=ttft_ms,
        tpot_ms=tpot_ms,
        step_ms=rep.step(rep.max_batch) * 1e3,
        prefill_mean_ms=float(np.dot(w, pf) / w.sum()) * 1e3,
        rtt_budget_ms=budget,
        decode_tokens_mean=rep.stats.decode_tokens_mean,
        prompt_grid=tuple(float(p) for p in prefill_grid),
        prefill_ms=tuple(rep.prefill(p) * 1e3 for p in prefill_grid),
        batch_grid=tuple(float(b) for b in batches),
        step_grid_ms=tuple(rep.step(b) * 1e3 for b in batches),
        load_grid=LOAD_GRID,
        slot_wait=tuple(t[0] for t in tails),
        prefill_wait=tuple(t[1] for t in tails),
        source=rep.source,
    )


def build_profile(
    work: ServedWorkload, gpu_name: str, trace: Trace, headroom: float, reach_ms: float
) -> ServiceProfile | None:
    """The profile of ``work`` on ``gpu_name`` (None when no TP degree meets its targets);
    ``reach_ms`` is the network reserve wanted (the scenario's longest round trip)."""
    from suanli.catalog.models import model as load_model

    request = serve_request(work, trace, headroom)
    stats = request_workload(request)
    if gpu_name in work.profiles:
        given = work.profiles[gpu_name]
        return _profile(_from_given(given, stats, given.source), work, headroom, reach_ms)
    arch = load_model(work.model)
    gpu = catalog.gpu(gpu_name)
    best: ServiceProfile | None = None
    try:
        cands = candidates(arch, [gpu], stats, request)
    except SuanliError:
        return None
    for cand in cands:
        rep = _from_candidate(cand)
        if rep is None:
            continue
        prof = _profile(rep, work, headroom, reach_ms)
        if prof is None:
            continue
        if best is None or prof.gpus_per_replica / prof.rps < best.gpus_per_replica / best.rps:
            best = prof
    return best


def build_profiles(
    workloads: Sequence[ServedWorkload],
    gpu_names: Sequence[str],
    headroom: float,
    reach_ms: float = MIN_NETWORK_MS,
) -> list[dict[str, ServiceProfile]]:
    """For each workload, GPU name -> profile (types that cannot meet the targets left out)."""
    out: list[dict[str, ServiceProfile]] = []
    for w in workloads:
        trace = builtin_trace(w.trace)
        profiles: dict[str, ServiceProfile] = {}
        for g in gpu_names:
            p = build_profile(w, g, trace, headroom, reach_ms)
            if p is not None:
                profiles[g] = p
        out.append(profiles)
    return out
