"""Check a placement against every hard rule; returns the violations (empty when sound).

Rules: no offer's capacity exceeded; every row on an offer its group accepts (GPU type,
window, fabric, price limit, RTT within budget for every region served); a gang is one row
(one offer, so one site and one fabric); a placed demand has all units of exactly one
alternative; an unplaced demand has no rows and a reason; the total cost is the sum of the
rows' GPUs times their prices.
"""

from __future__ import annotations

import math

import numpy as np

from suanli.placement.problem import KIND_GANG
from suanli.placement.result import Placement


def violations(placement: Placement, *, limit: int = 20) -> list[str]:
    """Every broken rule (at most ``limit``), as readable lines."""
    p, s = placement.problem, placement.solution
    out: list[str] = []
    used = placement.used_gpus
    over = np.flatnonzero(used > p.offer_cap)
    out += [f"offer {p.offer_ids[int(o)]}: {used[o]} GPUs used > {p.offer_cap[o]}" for o in over]
    if np.any(s.units <= 0):
        out.append("a row has no units")
    g_demand = p.alt_demand[p.group_alt]
    for r in range(len(s.group)):
        g, o = int(s.group[r]), int(s.offer[r])
        if not p.mask(int(p.group_elig[g]), int(p.group_k[g]))[o]:
            e = p.eligibilities[int(p.group_elig[g])]
            rtt = [float(p.rtt_ms[c, p.offer_site[o]]) for c in e.regions]
            out.append(
                f"demand {p.demand_ids[int(g_demand[g])]}: offer {p.offer_ids[o]} is not "
                f"acceptable (rtt {rtt} vs budgets {list(e.budgets_ms)}, price "
                f"{p.offer_price[o]} vs {e.max_price})"
            )
        if (
            p.alt_demand[p.group_alt[g]] != g_demand[g]
            or s.chosen_alt[g_demand[g]] != p.group_alt[g]
        ):
            out.append(f"row {r}: group not of the demand's chosen alternative")
        if len(out) >= limit:
            return out
    placed_units = np.zeros(len(p.group_k), dtype=np.int64)
    np.add.at(placed_units, s.group, s.units)
    active = p.group_alt == s.chosen_alt[g_demand]
    short = np.flatnonzero(active & (placed_units != p.group_units))
    out += [
        f"demand {p.demand_ids[int(g_demand[g])]}: group {g} placed "
        f"{placed_units[g]} of {p.group_units[g]} units"
        for g in short[:limit]
    ]
    stray = np.flatnonzero(~active & (placed_units > 0))
    out += [f"group {g} of an unchosen alternative has units" for g in stray[:limit]]
    rows_per_group = np.bincount(s.group, minlength=len(p.group_k))
    gang = p.demand_kind[g_demand] == KIND_GANG
    split = np.flatnonzero(gang & (rows_per_group > 1))
    out += [
        f"gang {p.demand_ids[int(g_demand[g])]} split over {rows_per_group[g]} offers"
        for g in split[:limit]
    ]
    for d in placement.unplaced_index[:limit]:
        if not placement.unplaced[p.demand_ids[d]]:
            out.append(f"demand {p.demand_ids[d]} unplaced without a reason")
    total = sum(a.cost_cny_per_hour for v in placement.assignments.values() for a in v)
    if not math.isclose(total, placement.total_cost_cny_per_hour, rel_tol=1e-9, abs_tol=1e-6):
        out.append(f"cost {placement.total_cost_cny_per_hour} != sum of parts {total}")
    return out[:limit]
