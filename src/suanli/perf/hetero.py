"""A heterogeneous serving plan (Mélange-style): short requests to cheap GPUs, long to big ones.

The trace's requests are split into buckets by prompt and output length. For each bucket b
and each (GPU type, TP) option k we find ``L[b,k]``, the most requests/s of bucket b one
replica of k serves within the TTFT and TPOT targets and the headroom (a bisection on the
queueing model of :mod:`suanli.perf.sizing`). Then a small MILP picks the mix:

    minimise    sum_k  c_k n_k                      (c_k = tp_k x price_k, CNY/h per replica)
    subject to  sum_k  x[b,k] = 1                   for every bucket b
                sum_b  (rate_b / L[b,k]) x[b,k] <= n_k   for every option k
                0 <= x[b,k] <= 1 (0 where L[b,k] = 0),  n_k integer >= 0

``x[b,k]`` is the share of bucket b sent to option k (a bucket may be split, as Mélange's
slices are); an option's replicas are shared by the traffic it takes. Only the n_k are
integer, so HiGHS solves it in milliseconds. ``L[b,k]`` comes from serving bucket b alone,
which is pessimistic (pooled traffic shares prefill interference and queues better), so the
replicas of each chosen option are then sized exactly as a single type would be, on the
merged traffic it serves, and that count is the plan's. Finally a greedy pass merges one
option's traffic into another (or into the best single type) while the sized cost falls,
which recovers the pooling the linear model cannot see.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.perf import TP_DEGREES
from suanli.perf.precision import resolve_precision
from suanli.perf.replica import Candidate, Config, ServeRequest, configure
from suanli.perf.workload import COARSE_BINS, workload_from_arrays

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
    bucket_shares: tuple[float, ...]  # the share of each of those buckets served here
    cost_cny_per_hour: float
    ttft_ms: float
    tpot_ms: float
    max_batch: int
    verified: bool = True  # False: sizing the merged traffic found no config; MILP count kept


@dataclass(frozen=True, slots=True)
class HeteroPlan:
    """The mixed plan, its cost and how it compares with the best single type."""

    buckets: tuple[Bucket, ...]
    assignment: dict[str, str]  # bucket label -> "GPU TP=t" (with shares when split)
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
    target_s = request.compute_ttft_ms / 1e3
    hi = cand.capacity_rps * (1.0 - request.headroom)
    if cand.ttft_floor_s(q) > target_s:
        return 0.0
    if cand.ttft_at(hi, q).quantile_s <= target_s:
        return hi
    lo = 0.0
    while hi - lo > 0.01 * hi:  # 1% is finer than the replica rounding that follows
        mid = 0.5 * (lo + hi)
        if cand.ttft_at(mid, q).quantile_s <= target_s:
            lo = mid
        else:
            hi = mid
    return lo


def _useful_options(limits: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Indices of options not dominated by another at most as costly that serves every
    bucket at least as fast (swapping replica for replica never costs more), nor useless."""
    keep = []
    for k in range(limits.shape[1]):
        if not (limits[:, k] > 0).any():
            continue
        dominated = False
        for j in range(limits.shape[1]):
            if j == k or costs[j] > costs[k] or np.any(limits[:, j] < limits[:, k]):
                continue
            if costs[j] < costs[k] or np.any(limits[:, j] > limits[:, k]) or j < k:
                dominated = True
                break
        if not dominated:
            keep.append(k)
    return np.asarray(keep, dtype=int)


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 while HiGHS runs: its C++ core sometimes prints debug lines
    there, which would corrupt a command's one JSON document."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. under a test runner's capture)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _solve(rates: np.ndarray, limits: np.ndarray, costs: np.ndarray) -> np.ndarray | None:
    """The MILP of the module doc; returns the shares x[b, k], or None when infeasible.

    Dominated options are dropped first (exactly: see :func:`_useful_options`)."""
    useful = _useful_options(limits, costs)
    if useful.size == 0:
        return None
    if useful.size < limits.shape[1]:
        sub = _solve_milp(rates, limits[:, useful], costs[useful])
        if sub is None:
            return None
        full = np.zeros(limits.shape)
        full[:, useful] = sub
        return full
    return _solve_milp(rates, limits, costs)


def _solve_milp(rates: np.ndarray, limits: np.ndarray, costs: np.ndarray) -> np.ndarray | None:
    nb, nk = limits.shape
    feasible = limits > 0
    nx = nb * nk
    c = np.concatenate([np.zeros(nx), costs])
    a_assign = np.zeros((nb, nx + nk))
    for b in range(nb):
        a_assign[b, b * nk : (b + 1) * nk] = 1.0
    a_cap = np.zeros((nk, nx + nk))  # rows: sum_b (rate_b / L[b,k]) x[b,k] - n_k <= 0
    for k in range(nk):
        for b in range(nb):
            if feasible[b, k]:
                a_cap[k, b * nk + k] = rates[b] / limits[b, k]
        a_cap[k, nx + k] = -1.0
    upper = np.concatenate([feasible.ravel().astype(float), np.full(nk, np.inf)])
    with _quiet_stdout():
        res = milp(
            c,
            constraints=[
                LinearConstraint(a_assign, np.ones(nb), np.ones(nb)),
                LinearConstraint(a_cap, -np.inf, 0.0),
            ],
            integrality=np.concatenate([np.zeros(nx), np.ones(nk)]),
            bounds=Bounds(np.zeros(nx + nk), upper),
            options={"time_limit": 5.0},
        )
    if res.x is None:
        return None
    x = np.clip(np.asarray(res.x[:nx]).reshape(nb, nk), 0.0, 1.0)
    x[x < 1e-6] = 0.0
    return np.asarray(x / x.sum(axis=1, keepdims=True))


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
                arch,
                g,
                tp,
                work,
                precision=resolve_precision(arch, request.precision),
                tpot_target_ms=request.tpot_ms,
                kv_precision=request.kv_precision,
            )
            limits[b, k] = max_rate_per_replica(cand, request)
    costs = np.array([tp * prices[g.name] for g, tp in options])
    rates = np.array([bk.rate_per_s for bk in buckets])
    x = _solve(rates, limits, costs)
    if x is None:
        return None
    mixer = _Mixer(request, arch, options, prices, buckets, parts, limits)
    single_k = None
    if best_single is not None:
        single_k = next(
            k
            for k, (g, tp) in enumerate(options)
            if (g.name, tp) == (best_single.gpu, best_single.tp)
        )
    x = mixer.merge_greedily(x, single_k)
    groups = [mixer.group(k, x[:, k]) for k in range(len(options)) if x[:, k].any()]
    served_by: dict[str, list[str]] = {b.label: [] for b in buckets}
    for group in groups:
        for label, share in zip(group.buckets, group.bucket_shares, strict=True):
            part = f" ({share:.0%})" if share < 0.995 else ""
            served_by[label].append(f"{group.gpu} TP={group.tp}{part}")
    assignment = {label: ", ".join(names) for label, names in served_by.items()}
    total = sum(gr.cost_cny_per_hour for gr in groups)
    single = best_single.cost_cny_per_hour if best_single is not None else None
    savings = 1.0 - total / single if single else math.inf
    beats = single is None or total < single - 1e-9
    if best_single is None:
        note = "no single GPU type meets the targets; the mix does"
    elif beats:
        note = f"the mix costs {savings:.0%} less than the best single type ({best_single.gpu})"
    else:
        note = f"the best single type ({best_single.gpu}) is as cheap or cheaper; use it"
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


class _Mixer:
    """Sizes the replicas of each option for the traffic a mix sends it, with a cache, and
    improves a mix by merging groups."""

    def __init__(
        self,
        request: ServeRequest,
        arch: ModelArch,
        options: list[tuple[Gpu, int]],
        prices: Mapping[str, float],
        buckets: list[Bucket],
        parts: list[tuple[int, int | None, int, int | None, np.ndarray]],
        limits: np.ndarray,
    ) -> None:
        assert request.trace is not None
        self.request, self.arch, self.options, self.prices = request, arch, options, prices
        self.buckets, self.limits = buckets, limits
        self.size = request.trace.size
        # A split bucket sends a fixed pseudo-random subset of its requests (seeded: repeatable).
        self.orders = [
            np.random.default_rng(b).permutation(np.nonzero(part[4])[0])
            for b, part in enumerate(parts)
        ]
        self.cache: dict[tuple[int, tuple[float, ...]], HeteroGroup] = {}

    def group(self, k: int, shares: np.ndarray) -> HeteroGroup:
        key = (k, tuple(round(float(v), 6) for v in shares))
        if key not in self.cache:
            self.cache[key] = self._size_group(k, shares)
        return self.cache[key]

    def merge_greedily(self, x: np.ndarray, single_k: int | None) -> np.ndarray:
        """Move all of one option's traffic to another used option (or to the best single
        type) while that lowers the sized cost: the MILP's linear model cannot see pooling."""
        x = x.copy()
        for _ in range(len(self.options)):
            used = [k for k in range(x.shape[1]) if x[:, k].any()]
            targets = set(used) | ({single_k} if single_k is not None else set())
            best_delta, best_move = -1e-9, None
            for a in used:
                old_a = self.group(a, x[:, a]).cost_cny_per_hour
                moved = x[:, a] > 0
                for t in sorted(targets - {a}):
                    if np.any(self.limits[moved, t] <= 0):
                        continue
                    new = self.group(t, x[:, t] + x[:, a])
                    if not new.verified:
                        continue
                    old_t = self.group(t, x[:, t]).cost_cny_per_hour if x[:, t].any() else 0.0
                    delta = new.cost_cny_per_hour - old_a - old_t
                    if delta < best_delta:
                        best_delta, best_move = delta, (a, t)
            if best_move is None:
                break
            a, t = best_move
            x[:, t] += x[:, a]
            x[:, a] = 0.0
        return x

    def _size_group(self, k: int, shares: np.ndarray) -> HeteroGroup:
        """Replicas for the option's traffic, sized like a single type on the merged requests
        (the MILP's linearised count only where that sizing finds no configuration)."""
        request, buckets = self.request, self.buckets
        assert request.trace is not None
        gpu, tp = self.options[k]
        price = self.prices[gpu.name]
        used = [b for b in range(len(buckets)) if shares[b] > 0]
        rate = float(sum(shares[b] * buckets[b].rate_per_s for b in used))
        load = sum(shares[b] * buckets[b].rate_per_s / self.limits[b, k] for b in used)
        replicas = max(1, math.ceil(load - 1e-9))
        mask = np.zeros(self.size, dtype=bool)
        for b in used:
            order = self.orders[b]
            mask[order[: max(1, math.ceil(shares[b] * order.size - 1e-9))]] = True
        work = workload_from_arrays(
            request.trace.prompt_tokens[mask],
            request.trace.output_tokens[mask],
            percentile=request.percentile,
            source="merged",  # the same fine bins as single-type sizing, to compare fairly
        )
        cand = Candidate(
            self.arch,
            gpu,
            tp,
            work,
            precision=resolve_precision(self.arch, request.precision),
            tpot_target_ms=request.tpot_ms,
            kv_precision=request.kv_precision,
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
        verified = isinstance(merged, Config)
        if isinstance(merged, Config):
            replicas = merged.replicas
            ttft_ms, tpot_ms, max_batch = merged.ttft_ms, merged.tpot_ms, merged.max_batch
        return HeteroGroup(
            gpu=gpu.name,
            tp=tp,
            replicas=replicas,
            gpus=replicas * tp,
            rate_per_s=rate,
            buckets=tuple(buckets[b].label for b in used),
            bucket_shares=tuple(float(shares[b]) for b in used),
            cost_cny_per_hour=replicas * tp * price,
            ttft_ms=ttft_ms,
            tpot_ms=tpot_ms,
            max_batch=max_batch,
            verified=verified,
        )
