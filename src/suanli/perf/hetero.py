"""A heterogeneous serving plan (Mélange-style): short requests to cheap GPUs, long to big ones.

The trace's requests are split into buckets by prompt and output length. For each bucket b
and each (GPU type, TP) option k we find ``L[b,k]``, the most requests/s of bucket b one
replica of k serves within the TTFT and TPOT targets and the headroom (a bisection on the
queueing model of :mod:`suanli.perf.sizing`). Then a small MILP picks the mix:

    minimise    sum_k  c_k n_k                      (c_k = tp_k x price_k, CNY/h per replica)
    subject to  sum_k  x[b,k] = 1                   for every bucket b
                sum_b  (rate_b / L[b,k]) x[b,k] <= n_k   for every option k
                x[b,k] in {0, 1} (0 where L[b,k] = 0),  n_k integer >= 0

(each bucket on one option; an option's replicas are shared by the buckets it takes). The
linear sharing is Mélange's approximation; we then check it: each option's replicas are
re-sized for the merged traffic it serves and the larger count is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.perf import TP_DEGREES
from suanli.perf.sizing import (
    COARSE_BINS,
    Candidate,
    Config,
    ServeRequest,
    configure,
    workload_from_arrays,
)

PROMPT_EDGES = (512, 2048)  # prompt-length bucket boundaries, tokens
OUTPUT_EDGES = (128, 512)  # output-length bucket boundaries, tokens


@dataclass(frozen=True, slots=True)
class Bucket:
    """Requests with prompt in [prompt_lo, prompt_hi) and output in [output_lo, output_hi)."""

    label: str
    prompt_lo: int
    prompt_hi: int | None
    output_lo: int
    output_hi: int | None
    share: float
    rate_per_s: float


@dataclass(frozen=True, slots=True)
class HeteroGroup:
    """The replicas of one option and the buckets they serve."""

    gpu: str
    tp: int
    replicas: int
    gpus: int
    rate_per_s: float
    buckets: tuple[str, ...]
    cost_cny_per_hour: float
    ttft_ms: float
    tpot_ms: float
    max_batch: int


@dataclass(frozen=True, slots=True)
class HeteroPlan:
    """The mixed plan, its cost and how it compares with the best single type."""

    buckets: tuple[Bucket, ...]
    assignment: dict[str, str]  # bucket label -> "GPU TP=t"
    groups: tuple[HeteroGroup, ...]
    cost_cny_per_hour: float
    best_single_cost_cny_per_hour: float | None
    savings_fraction: float  # 1 - mixed / single (negative: the mix costs more)
    beats_single: bool
    note: str


def _label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi}" if hi is not None else f"{lo}+"


def split_buckets(
    prompt_tokens: np.ndarray, output_tokens: np.ndarray
) -> list[tuple[int, int | None, int, int | None, np.ndarray]]:
    """Non-empty length buckets as (prompt_lo, prompt_hi, output_lo, output_hi, mask)."""
    p_edges = (0, *PROMPT_EDGES, None)
    o_edges = (0, *OUTPUT_EDGES, None)
    out = []
    for i in range(len(p_edges) - 1):
        for j in range(len(o_edges) - 1):
            p_lo, p_hi, o_lo, o_hi = p_edges[i], p_edges[i + 1], o_edges[j], o_edges[j + 1]
            assert p_lo is not None and o_lo is not None
            mask = (prompt_tokens >= p_lo) & (output_tokens >= o_lo)
            if p_hi is not None:
                mask &= prompt_tokens < p_hi
            if o_hi is not None:
                mask &= output_tokens < o_hi
            if mask.any():
                out.append((p_lo, p_hi, o_lo, o_hi, mask))
    return out


def max_rate_per_replica(cand: Candidate, request: ServeRequest) -> float:
    """The most requests/s one replica of ``cand`` serves within targets and headroom."""
    if cand.rejection is not None:
        return 0.0
    q = request.percentile / 100.0
    target_s = request.ttft_ms / 1e3
    hi = cand.capacity_rps * (1.0 - request.headroom)
    if cand.ttft_floor_s(q) > target_s:
        return 0.0
    if cand.ttft_at(hi, q).quantile_s <= target_s:
        return hi
    lo = 0.0
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        if cand.ttft_at(mid, q).quantile_s <= target_s:
            lo = mid
        else:
            hi = mid
    return lo


def _solve(rates: np.ndarray, limits: np.ndarray, costs: np.ndarray) -> np.ndarray | None:
    """The MILP of the module doc; returns x[b, k] as 0/1, or None when infeasible."""
    nb, nk = limits.shape
    feasible = limits > 0
    nx = nb * nk
    c = np.concatenate([np.zeros(nx), costs])
    a_assign = np.zeros((nb, nx + nk))
    for b in range(nb):
        a_assign[b, b * nk : (b + 1) * nk] = 1.0
    a_cap = np.zeros((nk, nx + nk))
    for k in range(nk):
        for b in range(nb):
            if feasible[b, k]:
                a_cap[k, b * nk + k] = rates[b] / limits[b, k]
        a_cap[k, nx + k] = -1.0
    upper = np.concatenate([feasible.ravel().astype(float), np.full(nk, np.inf)])
    res = milp(
        c,
        constraints=[
            LinearConstraint(a_assign, np.ones(nb), np.ones(nb)),
            LinearConstraint(a_cap, -np.inf, 0.0),
        ],
        integrality=np.ones(nx + nk),
        bounds=Bounds(np.zeros(nx + nk), upper),
        options={"time_limit": 5.0},
    )
    if res.x is None:
        return None
    return np.asarray(np.rint(res.x[:nx]).reshape(nb, nk))


def plan_heterogeneous(
    request: ServeRequest,
    arch: ModelArch,
    gpus: Sequence[Gpu],
    prices: Mapping[str, float],
    *,
    best_single: Config | None,
) -> HeteroPlan | None:
    """The cheapest bucket -> (GPU type, TP) mix, or None without a trace or a feasible mix."""
    trace = request.trace
    if trace is None:
        return None
    prompts = np.asarray(trace.prompt_tokens)
    outputs = np.asarray(trace.output_tokens)
    parts = split_buckets(prompts, outputs)
    options = [(g, tp) for g in gpus if (prices.get(g.name) or 0) > 0 for tp in TP_DEGREES]
    if len(parts) < 2 or not options:
        return None
    buckets: list[Bucket] = []
    limits = np.zeros((len(parts), len(options)))
    for b, (p_lo, p_hi, o_lo, o_hi, mask) in enumerate(parts):
        share = float(mask.mean())
        label = f"prompt {_label(p_lo, p_hi)} / output {_label(o_lo, o_hi)}"
        buckets.append(Bucket(label, p_lo, p_hi, o_lo, o_hi, share, request.rate_per_s * share))
        work = workload_from_arrays(
            prompts[mask],
            outputs[mask],
            percentile=request.percentile,
            source=label,
            bins=COARSE_BINS,
        )
        for k, (g, tp) in enumerate(options):
            cand = Candidate(
                arch, g, tp, work, precision=request.precision, tpot_target_ms=request.tpot_ms
            )
            limits[b, k] = max_rate_per_replica(cand, request)
    costs = np.array([tp * prices[g.name] for g, tp in options])
    rates = np.array([bk.rate_per_s for bk in buckets])
    x = _solve(rates, limits, costs)
    if x is None:
        return None
    groups: list[HeteroGroup] = []
    assignment: dict[str, str] = {}
    for k, (g, tp) in enumerate(options):
        chosen = [b for b in range(len(buckets)) if x[b, k] > 0.5]
        if not chosen:
            continue
        for b in chosen:
            assignment[buckets[b].label] = f"{g.name} TP={tp}"
        groups.append(
            _group(request, arch, g, tp, prices[g.name], chosen, buckets, parts, limits[:, k])
        )
    total = sum(gr.cost_cny_per_hour for gr in groups)
    single = best_single.cost_cny_per_hour if best_single is not None else None
    savings = 1.0 - total / single if single else math.inf
    beats = single is None or total < single - 1e-9
    if single is None:
        note = "no single GPU type meets the targets; the mix does"
    elif beats:
        note = f"the mix costs {savings:.0%} less than the best single type ({best_single.gpu})"  # type: ignore[union-attr]
    else:
        note = f"the best single type ({best_single.gpu}) is as cheap or cheaper; use it"  # type: ignore[union-attr]
    return HeteroPlan(
        buckets=tuple(buckets),
        assignment=assignment,
        groups=tuple(groups),
        cost_cny_per_hour=total,
        best_single_cost_cny_per_hour=single,
        savings_fraction=savings if math.isfinite(savings) else 0.0,
        beats_single=beats,
        note=note,
    )


def _group(
    request: ServeRequest,
    arch: ModelArch,
    gpu: Gpu,
    tp: int,
    price: float,
    chosen: list[int],
    buckets: list[Bucket],
    parts: list[tuple[int, int | None, int, int | None, np.ndarray]],
    limits: np.ndarray,  # column of the option: requests/s per replica, per bucket
) -> HeteroGroup:
    """Replicas of one option for its buckets: the MILP's count, checked on merged traffic."""
    assert request.trace is not None
    rate = sum(buckets[b].rate_per_s for b in chosen)
    replicas = max(1, math.ceil(sum(buckets[b].rate_per_s / limits[b] for b in chosen) - 1e-9))
    mask = np.zeros(request.trace.size, dtype=bool)
    for b in chosen:
        mask |= parts[b][4]
    work = workload_from_arrays(
        request.trace.prompt_tokens[mask],
        request.trace.output_tokens[mask],
        percentile=request.percentile,
        source="merged",
        bins=COARSE_BINS,
    )
    cand = Candidate(
        arch, gpu, tp, work, precision=request.precision, tpot_target_ms=request.tpot_ms
    )
    merged = configure(
        cand,
        rate_per_s=rate,
        request=request,
        price_cny_per_gpu_hour=price,
        output_mean=work.output_mean,
    )
    ttft_ms = tpot_ms = math.nan
    max_batch = 0
    if isinstance(merged, Config):
        replicas = max(replicas, merged.replicas)
        ttft_ms = cand.ttft_at(rate / replicas, request.percentile / 100.0).quantile_s * 1e3
        tpot_ms, max_batch = merged.tpot_ms, merged.max_batch
    return HeteroGroup(
        gpu=gpu.name,
        tp=tp,
        replicas=replicas,
        gpus=replicas * tp,
        rate_per_s=rate,
        buckets=tuple(buckets[b].label for b in chosen),
        cost_cny_per_hour=replicas * tp * price,
        ttft_ms=ttft_ms,
        tpot_ms=tpot_ms,
        max_batch=max_batch,
    )
