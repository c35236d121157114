"""Sizing a serving request: from (model, rate, lengths, TTFT/TPOT targets) to GPU configurations.

For each GPU type g and tensor-parallel degree t in 1, 2, 4, 8 (a *replica* is t GPUs):

1. **Fit.** The weights and the KV cache of the longest sequence (prompt + output at the
   request's percentile) must fit; else "does not fit: needs N GB more".
2. **Max batch.** ``B* = max { B <= B_mem : TPOT(B) <= target }`` where
   ``TPOT(B) = step(B, C) + B E[pf] / E[O - 1]`` (decode step at the typical context C, plus
   the prefills that interrupt decoding at full load; see
   :func:`~suanli.perf.queueing.effective_tpot_s`) and ``B_mem`` the sequences whose KV cache
   fits. C is the token-weighted mean context during decode, ``E[O (P + O/2)] / E[O]``.
   TPOT(B) rises with B, so B* is found by bisection.
3. **Throughput.** ``X = B* / (E[O - 1] step + B* E[pf])`` requests/s per replica.
4. **Replicas.** The fewest R with ``rate / R <= (1 - headroom) X`` and the TTFT quantile at
   load ``rate / R`` within target (:func:`~suanli.perf.queueing.ttft`: M/G/c batch slots and
   an M/G/1 prefill queue). TTFT falls as R grows, down to the bare prefill time of the
   percentile prompt; where that alone misses the target the type is prefill-bound.
5. **Cost.** ``GPUs = R t``; CNY/h ``= GPUs x price``; CNY per million output tokens
   ``= CNY/h / (rate E[O] 3600) x 1e6``.

With a trace the prompt/output *distributions* are used (prefill-time quantiles, the
variance of output lengths, percentiles for memory); with means only, lengths are taken as
fixed at those means.

The steps for one candidate live in :mod:`suanli.perf.replica` (re-exported here); the
mixed plan in :mod:`suanli.perf.hetero`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from suanli.catalog.gpus import Gpu
from suanli.errors import Infeasible, InvalidRequest
from suanli.perf.hetero import HeteroPlan, plan_heterogeneous
from suanli.perf.precision import resolve_precision
from suanli.perf.replica import (
    MAX_BATCH,
    MAX_REPLICAS,
    Candidate,
    Config,
    Rejection,
    ServeRequest,
    candidates,
    configure,
    request_workload,
    smallest_passing,
    validate_request,
)
from suanli.perf.workload import Workload

__all__ = [
    "MAX_BATCH",
    "MAX_REPLICAS",
    "Candidate",
    "Config",
    "Rejection",
    "ServeRequest",
    "Sizing",
    "candidates",
    "configure",
    "request_workload",
    "size",
    "smallest_passing",
    "validate_request",
]


@dataclass(frozen=True, slots=True)
class Sizing:
    """Every feasible configuration sorted by cost, the rejections, and a mixed plan."""

    request: ServeRequest
    model: str
    workload: Workload
    configs: tuple[Config, ...]
    rejected: tuple[Rejection, ...]
    heterogeneous: HeteroPlan | None = None

    @property
    def best(self) -> Config | None:
        return self.configs[0] if self.configs else None

    def rejected_types(self) -> dict[str, str]:
        """GPU types with no feasible TP degree -> the reason of the TP that got furthest."""
        feasible = {c.gpu for c in self.configs}
        out: dict[str, Rejection] = {}
        for r in self.rejected:
            if r.gpu in feasible:
                continue
            kept = out.get(r.gpu)
            if kept is None or (r.stage, r.tp) > (kept.stage, kept.tp):
                out[r.gpu] = r
        return {g: f"TP={r.tp}: {r.reason}" if r.stage >= 2 else r.reason for g, r in out.items()}


def _check_tpot_floor(request: ServeRequest, cands: Sequence[Candidate]) -> None:
    fitting = [c for c in cands if c.rejection is None or c.rejection.stage >= 2]
    if not fitting:
        return
    fastest = min(fitting, key=lambda c: c.step1_ms)
    if request.tpot_ms < fastest.step1_ms:
        raise Infeasible(
            f"tpot_ms={request.tpot_ms:g} is below the physical floor: a batch-1 decode step "
            f"of {fastest.arch.name} takes {fastest.step1_ms:.1f} ms on the fastest "
            f"configuration ({fastest.gpu.name}, TP={fastest.tp})",
            hint=f"Ask for tpot_ms >= {math.ceil(fastest.step1_ms)} or a smaller model.",
            context={"field": "tpot_ms", "floor_ms": fastest.step1_ms},
        )


def size(
    request: ServeRequest,
    gpus: Sequence[Gpu],
    prices: Mapping[str, float],
    *,
    heterogeneous: bool = True,
) -> Sizing:
    """Every (GPU type, TP) configuration that meets the request, cheapest first.

    ``prices`` maps GPU name -> CNY per GPU-hour (e.g. ``suanli.catalog.reference_prices()``);
    a type without a price is rejected. With a trace and ``heterogeneous``, a Mélange-style
    mixed plan is added (:mod:`suanli.perf.hetero`).
    """
    from suanli.catalog.models import model as lookup_model

    validate_request(request)
    if not gpus:
        raise InvalidRequest("no GPU types to size on", field="gpus")
    arch = lookup_model(request.model)
    request = replace(request, precision=resolve_precision(arch, request.precision))
    workload = request_workload(request)
    cands = candidates(arch, gpus, workload, request)
    _check_tpot_floor(request, cands)
    configs: list[Config] = []
    rejected: list[Rejection] = []
    for cand in cands:
        price = prices.get(cand.gpu.name)
        if price is None or not price > 0:
            rejected.append(Rejection(cand.gpu.name, cand.tp, f"no price for {cand.gpu.name}", 0))
            continue
        result = configure(
            cand,
            rate_per_s=request.rate_per_s,
            request=request,
            price_cny_per_gpu_hour=price,
            output_mean=workload.output_mean,
        )
        if isinstance(result, Config):
            configs.append(result)
        else:
            rejected.append(result)
    configs.sort(key=lambda c: (c.cost_cny_per_hour, c.ttft_ms, c.gpus, c.gpu, c.tp))
    plan = None
    if heterogeneous and request.trace is not None:
        plan = plan_heterogeneous(
            request, arch, gpus, prices, best_single=configs[0] if configs else None
        )
    return Sizing(
        request=request,
        model=arch.name,
        workload=workload,
        configs=tuple(configs),
        rejected=tuple(rejected),
        heterogeneous=plan,
    )
