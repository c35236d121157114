"""A run's figures as plain JSON-ready values (for ``--json``, the bench and the API)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from suanli.sim.run import PolicyResult, SimResult


def _clean(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None


def utilization_summary(result: SimResult, p: PolicyResult) -> dict[str, Any]:
    """Mean utilization (GPUs reserved, existing tenants included): western hubs, metro, all
    sites, by region and by site; ``busy`` the same for GPUs busy (a serving replica with
    at least one request in it, a batch or training job, a tenant)."""
    w = result.world
    inv = w.inventory.sum(axis=1).astype(np.float64)
    used = p.util_site_hourly.mean(axis=0) * inv
    busy = p.busy_site_hourly.mean(axis=0) * inv
    roles = np.array([r if r in ("metro", "central") else "" for r in w.regions])

    def share(mask: np.ndarray, of: np.ndarray = used) -> float | None:
        return _clean(of[mask].sum() / inv[mask].sum()) if inv[mask].sum() > 0 else None

    return {
        "western_hubs": share(w.west),
        "metro": share(roles == "metro"),
        "all": share(np.ones(len(inv), dtype=bool)),
        "busy": {
            "western_hubs": share(w.west, busy),
            "metro": share(roles == "metro", busy),
            "all": share(np.ones(len(inv), dtype=bool), busy),
        },
        "by_region": {
            name: _clean(float(p.util_region_hourly[:, r].mean()))
            for r, name in enumerate(w.region_names)
        },
        "by_site": {
            sid: _clean(float(p.util_site_hourly[:, s].mean())) for s, sid in enumerate(w.site_ids)
        },
    }


def revenue_by_region(result: SimResult, p: PolicyResult) -> dict[str, float | None]:
    """Sellers' market revenue by region (hub name, ``metro``, ``central``)."""
    w = result.world
    out: dict[str, float] = {}
    for s, region in enumerate(w.regions):
        out[region] = out.get(region, 0.0) + float(p.revenue_by_site_cny[s])
    west = float(p.revenue_by_site_cny[w.west].sum())
    return {"western_hubs": _clean(west), **{k: _clean(v) for k, v in out.items()}}


def western_share_by_class(result: SimResult, p: PolicyResult) -> dict[str, float | None]:
    """Share of each workload class's serving GPU-hours placed at western hub clusters."""
    w = result.world
    gpus = np.einsum("tcwsg,wg->ws", p.trajectory.replicas.astype(np.float64), w.gpus_per_replica)
    total = gpus.sum(axis=1)
    west = gpus[:, w.west].sum(axis=1)
    return {
        spec.name: _clean(float(west[i] / total[i])) if total[i] > 0 else None
        for i, spec in enumerate(result.scenario.workloads)
    }


def slo_attainment(p: PolicyResult, result: SimResult) -> dict[str, float | None]:
    """Share of requests meeting their targets, per workload class (all cities)."""
    return {w.name: _clean(p.slo_for(w.name).attainment) for w in result.scenario.workloads}


def bound_summary(result: SimResult) -> dict[str, Any] | None:
    b = result.bound
    if b is None:
        return None
    return {
        "what": "hindsight lower bound on serving cost: an LP over the whole run with all "
        "demand known, fractional replicas, starting asks, no training or batch in the way",
        "serving_spend_cny": _clean(b.serving_spend_cny),
        "cost_cny_per_million_tokens": _clean(b.cost_cny_per_million_tokens),
        "unserved_request_hours": _clean(b.unserved_request_hours),
    }


def policy_summary(result: SimResult, p: PolicyResult) -> dict[str, Any]:
    """One policy's headline figures."""
    w = result.world
    index = p.price_index_daily
    at_start = p.cost_at_start_asks_cny_per_million_tokens
    bound = result.bound.cost_cny_per_million_tokens if result.bound else float("nan")
    return {
        "label": p.label,
        "cost_at_starting_asks_cny_per_million_tokens": _clean(at_start),
        "cost_vs_bound": _clean(at_start / bound) if bound > 0 else None,
        "slo_attainment": slo_attainment(p, result),
        "western_share_of_serving_gpu_hours": western_share_by_class(result, p),
        "utilization": utilization_summary(result, p),
        "seller_revenue_by_region_cny": revenue_by_region(result, p),
        "western_market_gpu_hours": _clean(float(p.market_gpu_hours_by_site[w.west].sum())),
        "cost_cny_per_million_tokens": {
            k: _clean(v) for k, v in p.cost_cny_per_million_tokens.items()
        },
        "serving_spend_cny": _clean(p.serving_spend_cny),
        "tokens_served": _clean(p.tokens_served),
        "requests_timed_out": p.requests_timed_out,
        "slo": [
            {k: (_clean(v) if isinstance(v, float) else v) for k, v in asdict(row).items()}
            for row in p.slo
        ],
        "seller_revenue_cny": _clean(p.revenue_cny),
        "seller_revenue_by_site_cny": {
            sid: _clean(float(p.revenue_by_site_cny[s])) for s, sid in enumerate(w.site_ids)
        },
        "price_index_cny_per_gpu_hour": {
            g: [_clean(float(x)) for x in index[:, j]] for j, g in enumerate(w.gpu_types)
        },
        "batch": {
            "jobs": result.demand.batch.size,
            "done": p.batch_jobs_done,
            "on_time": p.batch_jobs_on_time,
            "preempted_gpu_hours": _clean(p.batch_preempted_gpu_hours),
            "preemptions": p.batch_preemptions,
        },
        "training": {
            "jobs": result.demand.training.size,
            "placed": p.training_jobs_placed,
            "mean_wait_hours": _clean(p.training_wait_hours_mean),
        },
    }


def headline(result: SimResult) -> dict[str, Any]:
    """The figures the verdict and the sensitivity table rest on, per policy and the bound."""
    bound = result.bound.cost_cny_per_million_tokens if result.bound else float("nan")
    pols: dict[str, Any] = {}
    for name, p in result.policies.items():
        u = utilization_summary(result, p)
        at_start = p.cost_at_start_asks_cny_per_million_tokens
        slo = slo_attainment(p, result)
        pols[name] = {
            "cost_cny_per_million_tokens": _clean(p.cost_cny_per_million_tokens["all"]),
            "cost_at_starting_asks_cny_per_million_tokens": _clean(at_start),
            "cost_vs_bound": _clean(at_start / bound) if bound > 0 else None,
            "slo_attainment": slo,
            "slo_attainment_min": min((v for v in slo.values() if v is not None), default=None),
            "western_utilization": {
                "reserved": u["western_hubs"],
                "busy": u["busy"]["western_hubs"],
            },
            "metro_utilization": {"reserved": u["metro"], "busy": u["busy"]["metro"]},
            "seller_revenue_cny": _clean(p.revenue_cny),
            "seller_revenue_by_region_cny": revenue_by_region(result, p),
            "western_share_of_serving_gpu_hours": western_share_by_class(result, p),
        }
    return {
        "bound_cost_cny_per_million_tokens": _clean(bound),
        "policies": pols,
    }


def summary(result: SimResult) -> dict[str, Any]:
    """The whole run: scenario facts, demand and every policy's figures."""
    from suanli.sim.report import findings, verdict

    sc, w = result.scenario, result.world
    return {
        "scenario": sc.name,
        "days": result.days,
        "seed": result.seed,
        "sites": len(w.site_ids),
        "gpus": int(w.inventory.sum()),
        "cities": list(w.cities),
        "simulated_requests": result.requests,
        "requests_per_day_simulated": _clean(result.requests / result.days),
        "request_scale": sc.request_scale,
        "batch_jobs": result.demand.batch.size,
        "training_jobs": result.demand.training.size,
        "elapsed_s": round(result.elapsed_s, 3),
        "verdict": verdict(result),
        "findings": findings(result),
        "bound": bound_summary(result),
        "policies": {name: policy_summary(result, p) for name, p in result.policies.items()},
    }
