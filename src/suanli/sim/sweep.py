"""Sensitivity of the headline figures: the same run under changed assumptions.

Each variant changes one input of the scenario and runs every policy and the bound on its
own demand draw (same seed); :func:`sweep` runs the variants in parallel processes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from suanli import catalog
from suanli.sim.scenario import Scenario, ServedWorkload, SiteSpec


def _demand(factor: float) -> Callable[[Scenario], Scenario]:
    def change(sc: Scenario) -> Scenario:
        return replace(sc, request_scale=sc.request_scale * factor)

    return change


def _equal_asks(sc: Scenario) -> Scenario:
    def site(s: SiteSpec) -> SiteSpec:
        asks = {g: catalog.reference_price(g).cny_per_gpu_hour for g in s.inventory}
        return replace(s, ask_cny_per_gpu_hour=asks)

    return replace(sc, sites=tuple(site(s) for s in sc.sites))


def _route_factor(sc: Scenario) -> Scenario:
    return replace(sc, route_factor=2.0)


def _tight_ttft(sc: Scenario) -> Scenario:
    def work(w: ServedWorkload) -> ServedWorkload:
        return replace(w, ttft_p95_ms=w.ttft_p95_ms / 2, task_p95_ms=w.task_p95_ms / 2)

    return replace(sc, workloads=tuple(work(w) for w in sc.workloads))


def _west_halved(sc: Scenario) -> Scenario:
    def site(s: SiteSpec) -> SiteSpec:
        if catalog.site(s.id).role != "west":
            return s
        return replace(s, inventory={g: n // 2 for g, n in s.inventory.items()})

    return replace(sc, sites=tuple(site(s) for s in sc.sites))


VARIANTS: Mapping[str, Callable[[Scenario], Scenario]] = {
    "as given": lambda sc: sc,
    "demand x0.5": _demand(0.5),
    "demand x2": _demand(2.0),
    "equal asks": _equal_asks,
    "route factor 2.0": _route_factor,
    "TTFT targets halved": _tight_ttft,
    "western inventory halved": _west_halved,
}


def _run(args: tuple[Scenario, str, float, int]) -> dict[str, Any]:
    from suanli.sim.run import simulate
    from suanli.sim.summary import headline

    sc, name, days, seed = args
    started = time.perf_counter()
    result = simulate(VARIANTS[name](sc), days=days, seed=seed)
    doc = headline(result)
    doc["variant"] = name
    doc["elapsed_s"] = round(time.perf_counter() - started, 3)
    return doc


def sweep(
    scenario: Scenario, *, days: float, seed: int, workers: int | None = None
) -> dict[str, Any]:
    """Every variant's headline figures, run in parallel processes, and the wall time."""
    started = time.perf_counter()
    jobs = [(scenario, name, days, seed) for name in VARIANTS]
    n = workers or min(len(jobs), os.cpu_count() or 1)
    if n <= 1:
        rows = [_run(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=n) as pool:
            rows = list(pool.map(_run, jobs))
    wall = time.perf_counter() - started
    return {
        "days": days,
        "seed": seed,
        "workers": n,
        "wall_s": round(wall, 3) if math.isfinite(wall) else None,
        "variants": rows,
    }
