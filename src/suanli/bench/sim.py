"""The simulator benchmark: a month of the national market under every policy, the
hindsight bound, and (optionally) the sensitivity sweep's wall time.

Baseline, measured in the same run: the latency model evaluated one request at a time in
plain Python (the obvious implementation) on a sample of the same requests, against the
vectorised evaluation the simulator uses.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from suanli.sim.bound import hindsight_bound
from suanli.sim.demand import Demand
from suanli.sim.engine import SECONDS_PER_HOUR, Trajectory, simulate_policy
from suanli.sim.loader import load_scenario
from suanli.sim.metrics import request_latencies
from suanli.sim.policies import REGISTRY
from suanli.sim.run import summarise
from suanli.sim.world import World, build_world

TARGET_S = 30.0


def _scalar_wait(u: float, p_wait: float, mean_s: float, scv: float) -> float:
    """One wait by inverse transform (zero, exponential, or balanced two-phase)."""
    if p_wait <= 0 or u < 1.0 - p_wait:
        return 0.0
    v = min((u - (1.0 - p_wait)) / p_wait, 1.0 - 1e-12)
    if scv <= 1.0 + 1e-9:
        return -mean_s * math.log1p(-v)
    p1 = 0.5 * (1.0 + math.sqrt((scv - 1.0) / (scv + 1.0)))
    if v < p1:
        return -mean_s / (2.0 * p1) * math.log1p(-min(v / p1, 1.0 - 1e-12))
    p2 = 1.0 - p1
    return -mean_s / (2.0 * p2) * math.log1p(-min((v - p1) / p2, 1.0 - 1e-12))


def scalar_latencies(world: World, demand: Demand, traj: Trajectory, n: int) -> list[float]:
    """TTFT of the first ``n`` requests, one at a time in plain Python (the baseline)."""
    req = demand.requests
    _, _, n_s, n_g = world.shape
    out: list[float] = []
    for i in range(min(n, req.size)):
        t, c, w = int(req.hour[i]), int(req.city[i]), int(req.workload[i])
        caps = []
        for s in range(n_s):
            for g in range(n_g):
                caps.append(float(traj.replicas[t, c, w, s, g]) * float(world.rps[w, g]))
        total = sum(caps)
        rate = float(demand.counts[t, c, w]) * world.scenario.request_scale / SECONDS_PER_HOUR
        if total <= 0:
            out.append(math.inf)
            continue
        rho = rate / total
        if req.u_admit[i] * max(rho, 1.0) >= 1.0:
            out.append(math.inf)
            continue
        acc, chosen = 0.0, len(caps) - 1
        for j, cap in enumerate(caps):
            acc += cap / total
            if req.u_route[i] < acc:
                chosen = j
                break
        s, g = divmod(chosen, n_g)
        p = world.profiles[w][world.gpu_types[g]]
        prefill = float(np.interp(req.prompt_tokens[i], p.prompt_grid, p.prefill_ms))
        busy = min(rho, 1.0)
        level = 0
        while level < len(p.load_grid) - 1 and p.load_grid[level] < busy - 1e-12:
            level += 1
        wait = _scalar_wait(float(req.u_queue[i]), *p.slot_wait[level])
        wait += _scalar_wait(float(req.u_queue2[i]), *p.prefill_wait[level])
        out.append(float(world.rtt_ms[c, s]) + wait * 1000 + prefill)
    return out


def run(
    *,
    days: float = 30.0,
    seed: int = 0,
    baseline_requests: int = 20_000,
    sweep_days: float = 0.0,
) -> dict[str, Any]:
    """Time the whole simulation (every policy and the hindsight bound) and the baseline;
    with ``sweep_days`` > 0 also the sensitivity sweep's wall time. One JSON-ready document."""
    from suanli.sim.demand import generate_demand

    started = time.perf_counter()
    cpu_started = time.process_time()
    scenario = load_scenario("china-2025")
    world = build_world(scenario)
    demand = generate_demand(scenario, days=days, seed=seed)
    setup_s = time.perf_counter() - started
    per_policy: dict[str, float] = {}
    trajectories = {}
    for policy in REGISTRY:
        t0 = time.perf_counter()
        traj = simulate_policy(world, demand, policy)
        summarise(world, demand, traj)
        per_policy[policy] = round(time.perf_counter() - t0, 3)
        trajectories[policy] = traj
    t0 = time.perf_counter()
    bound = hindsight_bound(world, demand)
    bound_s = time.perf_counter() - t0
    total_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    sweep_doc: dict[str, Any] | None = None
    if sweep_days > 0:
        from suanli.sim.sweep import sweep

        swept = sweep(scenario, days=sweep_days, seed=seed)
        sweep_doc = {
            "days": sweep_days,
            "variants": len(swept["variants"]),
            "processes": swept["workers"],
            "wall_s": swept["wall_s"],
            "per_variant_s": {v["variant"]: v["elapsed_s"] for v in swept["variants"]},
        }
    traj = trajectories["suanli"]
    t0 = time.perf_counter()
    lat = request_latencies(world, demand, traj)
    vector_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scalar = scalar_latencies(world, demand, traj, baseline_requests)
    scalar_s = time.perf_counter() - t0
    n_base = len(scalar)
    agree = bool(np.allclose(np.array(scalar), lat.ttft_ms[:n_base], rtol=1e-9, equal_nan=True))
    vector_rate = demand.requests.size / vector_s if vector_s > 0 else math.inf
    scalar_rate = n_base / scalar_s if scalar_s > 0 else math.inf
    return {
        "benchmark": "sim",
        "scenario": scenario.name,
        "days": days,
        "sites": len(world.site_ids),
        "gpus": int(world.inventory.sum()),
        "policies": list(REGISTRY),
        "requests": demand.requests.size,
        "requests_per_day": round(demand.requests.size / days),
        "cpu_count": os.cpu_count(),
        "setup_s": round(setup_s, 3),
        "per_policy_s": per_policy,
        "bound_s": round(bound_s, 3),
        "bound_cost_cny_per_million_tokens": round(bound.cost_cny_per_million_tokens, 6),
        "total_s": round(total_s, 3),
        "cpu_s": round(cpu_s, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "target_s": TARGET_S,
        "met": total_s < TARGET_S,
        "sweep": sweep_doc,
        "latency_eval": {
            "vectorised_requests_per_s": round(vector_rate),
            "baseline": "the same latency model, one request at a time in plain Python",
            "baseline_requests": n_base,
            "baseline_requests_per_s": round(scalar_rate),
            "speedup": round(vector_rate / scalar_rate, 1) if scalar_rate > 0 else None,
            "baseline_matches": agree,
            "baseline_projected_s_for_all_requests_x_policies": round(
                len(REGISTRY) * demand.requests.size / scalar_rate, 1
            ),
        },
    }
