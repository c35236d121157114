"""``suanli bench placement``: the fast solver against its LP bound, the baselines and, where
it finishes, the exact MILP, on one seeded generated instance. Timings are wall-clock on
whatever machine runs it (report its load with them)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from suanli.placement.baselines import solve_cheapest_type, solve_nearest
from suanli.placement.fast import solve_fast
from suanli.placement.generate import generate
from suanli.placement.problem import Problem
from suanli.placement.result import Placement, Solution


def _run(
    problem: Problem, solver: Callable[[Problem], Solution]
) -> tuple[Placement, tuple[float, float]]:
    t0, c0 = time.perf_counter(), time.process_time()
    solution = solver(problem)
    return Placement(problem, solution), (time.perf_counter() - t0, time.process_time() - c0)


def _figures(pl: Placement, seconds: tuple[float, float]) -> dict[str, Any]:
    return {
        "solve_s": round(seconds[0], 4),
        "cpu_s": round(seconds[1], 4),
        "cost_cny_per_hour": round(pl.total_cost_cny_per_hour, 2),
        "placed": pl.placed_count,
        "unplaced": len(pl.unplaced_index),
        "unplaced_gpus": int(pl.problem.demand_min_gpus()[pl.unplaced_index].sum()),
    }


def run_benchmark(
    n_sites: int,
    n_requests: int,
    *,
    seed: int = 0,
    types_per_site: int = 4,
    milp_max_requests: int = 300,
    milp_time_limit_s: float = 30.0,
    baselines: bool = True,
    china: bool = False,
) -> dict[str, Any]:
    """Generate an instance, solve it every way, and return the figures."""
    t0 = time.perf_counter()
    problem = generate(n_sites, n_requests, seed=seed, types_per_site=types_per_site, china=china)
    gen_s = time.perf_counter() - t0
    fast, fast_s = _run(problem, solve_fast)
    lb = fast.lower_bound
    out: dict[str, Any] = {
        "instance": {
            "sites": len(problem.site_ids),
            "market": "china (built-in catalog sites)" if china else "generated sites",
            "offers": problem.n_offers,
            "requests": n_requests,
            "groups": len(problem.group_k),
            "eligibilities": len(problem.eligibilities),
            "gpus_demanded": int(problem.demand_min_gpus().sum()),
            "gpus_offered": int(problem.offer_cap.sum()),
            "seed": seed,
            "generate_s": round(gen_s, 3),
        },
        "note": "solve_s is wall-clock and cpu_s this process's CPU time; on a shared machine "
        "wall-clock includes waiting for a core (see load_avg_1m)",
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": _load()},
        "fast": {
            **_figures(fast, fast_s),
            "objective": round(fast.objective_value, 2),
            "lp_lower_bound": None if lb is None else round(lb, 2),
            "gap": None if fast.gap is None else round(fast.gap, 6),
            "objective_gap": None if fast.objective_gap is None else round(fast.objective_gap, 6),
            "unplaced_gpus": fast.unplaced_gpus,
            "lp_unplaced_gpus": fast.unplaced_gpus_bound,
            "lp_cost_lower_bound_cny_per_hour": None
            if fast.cost_lower_bound is None
            else round(fast.cost_lower_bound, 2),
        },
    }
    if baselines:
        for name, solver in (("nearest", solve_nearest), ("cheapest_type", solve_cheapest_type)):
            pl, seconds = _run(problem, solver)
            fig = _figures(pl, seconds)
            fig["objective"] = round(pl.objective_value, 2)
            out[name] = fig
    if n_requests <= milp_max_requests:
        from suanli.errors import Unavailable
        from suanli.placement.milp import solve_milp

        try:
            pl, seconds = _run(problem, lambda p: solve_milp(p, time_limit_s=milp_time_limit_s))
            out["milp"] = {
                **_figures(pl, seconds),
                "status": pl.status,
                "objective": round(pl.objective_value, 2),
                "bound": pl.lower_bound,
            }
        except Unavailable as exc:
            out["milp"] = {"skipped": exc.message}
    else:
        out["milp"] = {
            "skipped": f"{n_requests} requests > {milp_max_requests} (the MILP does not "
            "finish at this size; raise --milp-max to try)"
        }
    return out


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
