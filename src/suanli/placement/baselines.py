"""Baselines: how buyers place one job at a time today.

* **nearest site**: each demand in arrival order takes the acceptable offers nearest its
  users (mean RTT over the regions served; jobs without users take the cheapest), trying its
  options in the order given (sizing lists the cheapest configuration first).
* **cheapest single GPU type**: each demand uses only the acceptable GPU type with the lowest
  median listed price in the market, and takes the cheapest acceptable offers of that type;
  if they are full it stays unplaced (no other type is tried).

Both respect every hard limit (latency, price, fabric, capacity) and never split a unit;
a demand is placed whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from suanli.placement.problem import FloatArray, IntArray, Problem
from suanli.placement.result import Solution

Preference = Callable[[Problem, int, IntArray], FloatArray]


def price_rank(p: Problem, elig: int, offers: IntArray) -> FloatArray:
    out: FloatArray = p.offer_cost[offers]
    return out


def _by_distance(p: Problem, elig: int, offers: IntArray) -> FloatArray:
    e = p.eligibilities[elig]
    if not e.regions:
        return price_rank(p, elig, offers)
    rtt = p.rtt_ms[np.asarray(e.regions)][:, p.offer_site[offers]].mean(axis=0)
    # price breaks ties between offers at the same distance
    out: FloatArray = rtt + 1e-6 * p.offer_cost[offers]
    return out


def greedy(
    problem: Problem,
    preference: Preference,
    alternatives: Callable[[int, IntArray], IntArray],
    method: str,
    *,
    order: IntArray | None = None,
    free: IntArray | None = None,
) -> Solution:
    """Place demands one by one in input order; ``alternatives(d, alts)`` orders (or filters)
    the demand's alternatives, ``preference`` ranks acceptable offers (lower first, infinite
    excluded). ``order`` limits and orders the demands; ``free`` is the capacity left (it is
    updated in place)."""
    p = problem
    if free is None:
        free = p.offer_cap.copy()
    alt_start = p.alt_range()
    grp_start = p.group_range()
    candidates: dict[tuple[int, int], tuple[IntArray, IntArray, list[int]]] = {}
    out_g: list[int] = []
    out_o: list[int] = []
    out_u: list[int] = []
    chosen = np.full(p.n_demands, -1, dtype=np.int64)
    for d in range(p.n_demands) if order is None else order.tolist():
        alts = np.arange(alt_start[d], alt_start[d + 1])
        for a in alternatives(d, alts):
            rows: list[tuple[int, int, int, int]] = []
            ok = True
            for g in range(int(grp_start[a]), int(grp_start[a + 1])):
                e, k, need = int(p.group_elig[g]), int(p.group_k[g]), int(p.group_units[g])
                key = (e, k)
                if key not in candidates:
                    offers = np.flatnonzero(p.mask(e, k))
                    rank = preference(p, e, offers)
                    order = np.argsort(rank, kind="stable")
                    offers = offers[order[np.isfinite(rank[order])]]
                    candidates[key] = (offers, p.footprint(k, p.offer_node[offers]), [0])
                offers, fps, ptr = candidates[key]
                while ptr[0] < len(offers) and free[offers[ptr[0]]] < fps[ptr[0]]:
                    ptr[0] += 1
                i = ptr[0]
                while need > 0 and i < len(offers):
                    o, fp = int(offers[i]), int(fps[i])
                    take = min(need, int(free[o]) // fp)
                    if take > 0:
                        free[o] -= take * fp
                        rows.append((g, o, take, take * fp))
                        need -= take
                    i += 1
                if need > 0:
                    ok = False
                    break
            if ok:
                for g, o, take, _ in rows:
                    out_g.append(g)
                    out_o.append(o)
                    out_u.append(take)
                chosen[d] = a
                break
            for _, o, _, gpus in rows:
                free[o] += gpus
    return Solution(
        group=np.array(out_g, dtype=np.int64),
        offer=np.array(out_o, dtype=np.int64),
        units=np.array(out_u, dtype=np.int64),
        chosen_alt=chosen,
        method=method,
        status="heuristic",
    )


def solve_nearest(problem: Problem) -> Solution:
    """Nearest-site baseline (see module docstring)."""
    return greedy(problem, _by_distance, lambda d, alts: alts, "nearest")


def solve_cheapest_type(problem: Problem) -> Solution:
    """Cheapest-single-GPU-type baseline (see module docstring)."""
    p = problem
    median = np.full(len(p.type_names), np.inf)
    for t in range(len(p.type_names)):
        prices = p.offer_price[p.offer_type == t]
        if len(prices):
            median[t] = float(np.median(prices))
    first_group = np.searchsorted(p.group_alt, np.arange(len(p.alt_demand)))
    alt_type_price = (
        np.array(
            [
                min(median[t] for t in p.eligibilities[int(p.group_elig[g])].types)
                for g in first_group
            ]
        )
        if len(first_group)
        else np.zeros(0)
    )

    def cheapest_type_price(p: Problem, elig: int, offers: IntArray) -> FloatArray:
        types = np.asarray(p.eligibilities[elig].types, dtype=np.int64)
        best = types[np.argmin(median[types])]
        out: FloatArray = np.where(p.offer_type[offers] == best, p.offer_cost[offers], np.inf)
        return out

    def cheapest_type_only(d: int, alts: IntArray) -> IntArray:
        if len(alts) <= 1:
            return alts
        best = alt_type_price[alts].min()
        out: IntArray = alts[alt_type_price[alts] == best]
        return out

    return greedy(p, cheapest_type_price, cheapest_type_only, "cheapest_type")
