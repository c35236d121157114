"""Small seeded placement instances and a brute-force optimum to check solvers against."""

from __future__ import annotations

import itertools
import math

import numpy as np

from suanli.placement import (
    BatchDemand,
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
    ServeOption,
)
from suanli.placement.model import Demand
from suanli.placement.problem import Problem
from tests.placement.oracle import Oracle

CITIES = ("c0", "c1")
SITES = ("s0", "s1", "s2")
TYPES = ("H100", "L40S", "A800")


def rtt_table(rng: np.random.Generator) -> RttTable:
    return RttTable(CITIES, SITES, np.round(rng.uniform(2.0, 40.0, (2, 3)), 1))


def random_instance(
    seed: int, n_demands: int = 3, n_offers: int = 3
) -> tuple[list[Demand], list[Offer], RttTable]:
    """A tiny instance: a few offers of 0-8 GPUs and serving, gang and batch demands."""
    rng = np.random.default_rng(seed)
    offers = [
        Offer(
            id=f"o{i}",
            site=SITES[int(rng.integers(0, 3))],
            gpu=TYPES[int(rng.integers(0, 3))],
            count=int(rng.integers(0, 9)),
            gpus_per_node=int(rng.choice([2, 4, 8])),
            price_cny_per_gpu_hour=float(rng.integers(2, 20)),
            fabric="nvlink-ib" if rng.random() < 0.7 else "pcie-eth",
        )
        for i in range(n_offers)
    ]
    demands: list[Demand] = []
    for d in range(n_demands):
        kind = rng.integers(0, 3)
        if kind == 0:
            regions = (("c0", 1.0),) if rng.random() < 0.5 else (("c0", 1.0), ("c1", 2.0))
            options = tuple(
                ServeOption(
                    gpu=t,
                    gpus_per_replica=int(rng.choice([1, 2])),
                    replicas=int(rng.integers(1, 3)),
                    regions=regions,
                    rtt_budget_ms={c: float(rng.choice([10.0, 25.0, 50.0])) for c, _ in regions},
                    max_price_cny_per_gpu_hour=math.inf if rng.random() < 0.7 else 12.0,
                )
                for t in rng.choice(TYPES, size=int(rng.integers(1, 3)), replace=False)
            )
            demands.append(ServeDemand(f"d{d}", options))
        elif kind == 1:
            demands.append(
                GangDemand(
                    f"d{d}",
                    gpus=int(rng.choice([2, 4, 8])),
                    gpu_types=tuple(rng.choice(TYPES, size=2, replace=False)),
                    max_price_cny_per_gpu_hour=math.inf if rng.random() < 0.7 else 15.0,
                )
            )
        else:
            demands.append(
                BatchDemand(
                    f"d{d}",
                    gpu_hours=float(rng.integers(1, 4)) * 10,
                    gpu_types=tuple(rng.choice(TYPES, size=2, replace=False)),
                    deadline_h=10.0,
                )
            )
    return demands, offers, rtt_table(rng)


def _spreads(units: int, offers: list[int]) -> list[tuple[int, ...]]:
    """Every way to put ``units`` units on the offers (counts per offer)."""
    out = []
    for combo in itertools.product(range(units + 1), repeat=len(offers)):
        if sum(combo) == units:
            out.append(combo)
    return out


def brute_force(p: Problem, oracle: Oracle) -> float:
    """The least objective over every plan, by exhaustive search (tiny instances only).

    Which offers may take a unit, what it occupies there and what it costs come from the
    independent :class:`~tests.placement.oracle.Oracle`, not from the compiled problem;
    only the problem's shape (alternatives, groups, units) and its penalty are read."""
    alt_start = p.alt_range()
    grp_start = p.group_range()
    penalty = p.unplaced_penalty()
    best = math.inf

    def choices(d: int) -> list[tuple[float, dict[int, int]]]:
        out: list[tuple[float, dict[int, int]]] = [(float(penalty[d]), {})]
        for a in range(int(alt_start[d]), int(alt_start[d + 1])):
            per_group = []
            for g in range(int(grp_start[a]), int(grp_start[a + 1])):
                n = int(p.group_units[g])
                ok = oracle.offers_for(g)
                options = []
                for spread in _spreads(n, ok):
                    use: dict[int, int] = {}
                    c = 0.0
                    for o, u in zip(ok, spread, strict=True):
                        if u:
                            fp = oracle.footprint(g, o)
                            use[o] = use.get(o, 0) + u * fp
                            c += u * fp * oracle.cost(o)
                    options.append((c, use))
                per_group.append(options)
            for combo in itertools.product(*per_group):
                total = sum(c for c, _ in combo)
                merged: dict[int, int] = {}
                for _, used in combo:
                    for o, x in used.items():
                        merged[o] = merged.get(o, 0) + x
                out.append((total, merged))
        return out

    per_demand = [choices(d) for d in range(p.n_demands)]
    cap = np.array([offer.count for offer in oracle.offers], dtype=np.int64)
    for combo in itertools.product(*per_demand):
        total = sum(c for c, _ in combo)
        if total >= best:
            continue
        used = np.zeros(p.n_offers, dtype=np.int64)
        for _, u in combo:
            for o, x in u.items():
                used[o] += x
        if np.all(used <= cap):
            best = total
    return best
