"""Repair after rounding: a small MILP, bounded by branch-and-bound nodes, around the demands
left unplaced.

Rounding can leave a demand unplaced although a plan exists that places it: its only
acceptable offers (a tight RTT budget near one city) were filled by demands that could have
gone elsewhere. The repair frees those neighbours (demands with units on offers the
unplaced demands accept, most-blocking first, up to ``max_demands``), keeps everyone else
fixed, and solves the exact MILP of :mod:`suanli.placement.milp` for the freed demands on
the capacity they and the free GPUs leave, over the offers the unplaced demands accept, the
offers the neighbours use now, and each neighbour's cheapest acceptable offers with room.
The new plan for these demands is kept only if its objective is lower. Unplaced demands are
taken ten at a time, for at most ten rounds. Each MILP is bounded by ``node_limit``
branch-and-bound nodes and never by wall-clock time, so the same input gives the same plan
on any machine, however loaded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from suanli.errors import Unavailable
from suanli.placement.milp import solve_milp
from suanli.placement.problem import IntArray, Problem

Rows = tuple[IntArray, IntArray, IntArray, IntArray]


def subproblem(p: Problem, demands: IntArray, offers: IntArray, cap: IntArray) -> Problem:
    """The problem restricted to these demands (sorted) and offers, with capacities ``cap``."""
    keep_alt = np.isin(p.alt_demand, demands)
    alt_ix = np.flatnonzero(keep_alt)
    new_alt = np.full(len(p.alt_demand), -1, dtype=np.int64)
    new_alt[alt_ix] = np.arange(len(alt_ix))
    keep_grp = keep_alt[p.group_alt]
    new_d = np.searchsorted(demands, p.alt_demand[alt_ix])
    ids = [p.demand_ids[int(d)] for d in demands]
    return replace(
        p,
        offer_ids=[p.offer_ids[int(o)] for o in offers],
        offer_site=p.offer_site[offers],
        offer_type=p.offer_type[offers],
        offer_cap=cap,
        offer_node=p.offer_node[offers],
        offer_price=p.offer_price[offers],
        offer_cost=p.offer_cost[offers],
        offer_start=p.offer_start[offers],
        offer_end=p.offer_end[offers],
        offer_interruptible=p.offer_interruptible[offers],
        offer_fabric=p.offer_fabric[offers],
        demand_ids=ids,
        demand_kind=p.demand_kind[demands],
        alt_demand=new_d.astype(np.int64),
        alt_option=p.alt_option[alt_ix],
        alt_split=p.alt_split[alt_ix],
        group_alt=new_alt[p.group_alt[keep_grp]],
        group_units=p.group_units[keep_grp],
        group_k=p.group_k[keep_grp],
        group_elig=p.group_elig[keep_grp],
        _cache={},
    )


def repair(
    p: Problem,
    rows: Rows,
    *,
    chunk: int = 10,
    max_rounds: int = 10,
    max_demands: int = 150,
    cheapest: int = 8,
    node_limit: int = 100,
) -> Rows:
    """Try to place unplaced demands, ``chunk`` at a time (at most ``max_rounds`` rounds),
    by re-solving each chunk with its neighbourhood exactly."""
    unplaced = np.flatnonzero(rows[3] < 0)
    for start in range(0, min(len(unplaced), chunk * max_rounds), chunk):
        rows = _repair_once(
            p,
            rows,
            unplaced[start : start + chunk],
            max_demands=max_demands,
            cheapest=cheapest,
            node_limit=node_limit,
        )
    return rows


def _repair_once(
    p: Problem,
    rows: Rows,
    unplaced: IntArray,
    *,
    max_demands: int,
    cheapest: int,
    node_limit: int,
) -> Rows:
    group, offer, units, chosen = rows
    grp_start, alt_start = p.group_range(), p.alt_range()
    hot = np.zeros(p.n_offers, dtype=bool)
    for d in unplaced:
        for g in range(int(grp_start[alt_start[d]]), int(grp_start[alt_start[d + 1]])):
            hot |= p.mask(int(p.group_elig[g]), int(p.group_k[g]))
    row_d = p.alt_demand[p.group_alt[group]]
    fp = p.footprint(p.group_k[group], p.offer_node[offer])
    on_hot = hot[offer]
    blocking = np.bincount(row_d[on_hot], weights=(units * fp)[on_hot], minlength=p.n_demands)
    neighbours = np.flatnonzero(blocking > 0)
    # neighbours that could move to an offer outside the contested ones come first
    used = np.zeros(p.n_offers, dtype=np.int64)
    np.add.at(used, offer, units * fp)
    free_now = p.offer_cap - used
    movable_key: dict[tuple[int, int], bool] = {}
    row_g = group[on_hot]
    movable = np.zeros(p.n_demands, dtype=bool)
    for g, d in zip(row_g.tolist(), row_d[on_hot].tolist(), strict=True):
        e, k = int(p.group_elig[g]), int(p.group_k[g])
        key = (e, k)
        if key not in movable_key:
            fits = free_now >= p.footprint(k, p.offer_node)
            movable_key[key] = bool(np.any(p.mask(e, k) & ~hot & fits))
        movable[d] |= movable_key[key]
    # an equal share of neighbours from each contested offer: movable first, then largest
    hot_ix = np.flatnonzero(hot)
    per_offer = max(1, (max_demands - len(unplaced)) // max(1, len(hot_ix)))
    chosen_n: list[IntArray] = []
    hot_rows = np.flatnonzero(on_hot)
    for o in hot_ix:
        here = np.unique(row_d[hot_rows[offer[hot_rows] == o]])
        here = here[np.lexsort((-blocking[here], ~movable[here]))]
        chosen_n.append(here[:per_offer])
    neighbours = np.unique(np.concatenate(chosen_n)) if chosen_n else neighbours[:0]
    neighbours = neighbours[: max(0, max_demands - len(unplaced))]
    sub_d = np.sort(np.concatenate([unplaced, neighbours]))
    moving = np.isin(row_d, sub_d)
    used_fixed = np.zeros(p.n_offers, dtype=np.int64)
    np.add.at(used_fixed, offer[~moving], (units * fp)[~moving])
    room = p.offer_cap - used_fixed
    candidates = hot.copy()
    candidates[offer[moving]] = True
    for d in neighbours:
        for g in range(int(grp_start[alt_start[d]]), int(grp_start[alt_start[d + 1]])):
            k = int(p.group_k[g])
            # somewhere to move to: the cheapest acceptable offers outside the contested ones
            outside = p.mask(int(p.group_elig[g]), k) & ~hot
            ok = np.flatnonzero(outside & (free_now >= p.footprint(k, p.offer_node)))
            candidates[ok[np.argsort(p.offer_cost[ok], kind="stable")[:cheapest]]] = True
    sub_o = np.flatnonzero(candidates)
    sub = subproblem(p, sub_d, sub_o, room[sub_o])
    before = float(np.sum((units * fp * p.offer_cost[offer])[moving]))
    before += float(np.sum(p.unplaced_penalty()[unplaced]))
    try:
        sol = solve_milp(sub, time_limit_s=None, node_limit=node_limit, mip_rel_gap=1e-4)
    except Unavailable:
        return rows
    sub_fp = sub.footprint(sub.group_k[sol.group], sub.offer_node[sol.offer])
    after = float(np.sum(sol.units * sub_fp * sub.offer_cost[sol.offer]))
    after += float(np.sum(sub.unplaced_penalty()[sol.chosen_alt < 0]))
    if after >= before - 1e-9:
        return rows
    # map the sub-solution back: groups and alternatives by position among kept ones
    alt_ix = np.flatnonzero(np.isin(p.alt_demand, sub_d))
    grp_ix = np.flatnonzero(np.isin(p.group_alt, alt_ix))
    new_chosen = chosen.copy()
    new_chosen[sub_d] = np.where(sol.chosen_alt >= 0, alt_ix[np.maximum(sol.chosen_alt, 0)], -1)
    return (
        np.concatenate([group[~moving], grp_ix[sol.group]]),
        np.concatenate([offer[~moving], sub_o[sol.offer]]),
        np.concatenate([units[~moving], sol.units]),
        new_chosen,
    )
