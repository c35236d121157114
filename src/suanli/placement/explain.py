"""Explanations: for a demand, every offer considered, the chosen ones and why the others
were rejected; for an unplaced demand, the binding reason.

An offer's reason for a demand is the *latest* check it fails over all of the demand's
units (the closest it came to being acceptable): an H100 offer 40 ms away from a demand that
accepts H100 within 20 ms is rejected for ``latency``, not ``gpu_type``. Offers that pass
every check but were not used are rejected for ``capacity`` (too few free GPUs left) or
``cost`` (a cheaper acceptable offer was used). Reason masks are cached per (eligibility,
unit size), so explaining is cheap even for a national placement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from suanli.placement.model import REASONS
from suanli.placement.problem import IntArray, Problem
from suanli.placement.result import Explanation, OfferRejection, kind_name

if TYPE_CHECKING:
    from suanli.placement.result import Placement

MAX_LISTED_REJECTIONS = 50
_CAPACITY = REASONS.index("capacity")
_COST = REASONS.index("cost")


def _groups_of(p: Problem, d: int) -> tuple[IntArray, IntArray]:
    a0, a1 = np.searchsorted(p.alt_demand, [d, d + 1])
    g0, g1 = np.searchsorted(p.group_alt, [a0, a1])
    return np.arange(a0, a1), np.arange(g0, g1)


def offer_reasons(placement: Placement, d: int) -> npt.NDArray[np.int8]:
    """Per offer, the reason (index into REASONS) it was not used for demand d; 0 if used."""
    p = placement.problem
    _, groups = _groups_of(p, d)
    best = np.zeros(p.n_offers, dtype=np.int8)
    free = p.offer_cap - placement.used_gpus
    for g in groups:
        k = int(p.group_k[g])
        codes = p.reasons(int(p.group_elig[g]), k).copy()
        ok = codes == 0
        short = free < p.footprint(k, p.offer_node)
        codes[ok & short] = _CAPACITY
        codes[ok & ~short] = _COST
        best = np.maximum(best, codes)
    used = placement.solution.offer[placement.rows_of(d)]
    best[used] = 0
    return best


def _detail(p: Problem, d: int, o: int, code: int) -> str:
    reason = REASONS[code]
    gpu = p.type_names[int(p.offer_type[o])]
    if reason == "latency":
        worst = []
        _, groups = _groups_of(p, d)
        for g in groups:
            e = p.eligibilities[int(p.group_elig[g])]
            for c, budget in zip(e.regions, e.budgets_ms, strict=True):
                rtt = float(p.rtt_ms[c, p.offer_site[o]])
                if rtt > budget:
                    worst.append(f"{p.city_ids[c]} {rtt:.1f} ms > {budget:.1f} ms")
        return "RTT over budget: " + ", ".join(sorted(set(worst))[:3])
    if reason == "price":
        return f"{float(p.offer_price[o]):.2f} CNY/GPU-h is above the buyer's limit"
    if reason == "gpu_type":
        return f"{gpu} is not an acceptable GPU type"
    if reason == "memory":
        return f"{gpu} has {float(p.type_memory_gb[p.offer_type[o]]):.0f} GB per GPU, too little"
    if reason == "window":
        return f"available {p.offer_start[o]:g}-{p.offer_end[o]:g} h, not the whole window"
    if reason == "interruptible":
        return "interruptible capacity; the demand needs guaranteed capacity"
    if reason == "fabric":
        return f"fabric {p.fabric_names[int(p.offer_fabric[o])]} or {gpu} interconnect too weak"
    if reason == "capacity":
        return f"only {int(p.offer_cap[o])} GPUs in offer or too few left free"
    return f"acceptable, but cheaper capacity was chosen ({float(p.offer_price[o]):.2f} CNY/GPU-h)"


def _option_label(placement: Placement, d: int) -> str:
    p, s = placement.problem, placement.solution
    a = int(s.chosen_alt[d])
    if a < 0:
        return "-"
    _, g = np.searchsorted(p.group_alt, [a, a + 1])
    g0 = int(np.searchsorted(p.group_alt, a))
    e = p.eligibilities[int(p.group_elig[g0])]
    types = "/".join(p.type_names[t] for t in e.types)
    units = int(np.sum(p.group_units[g0:g]))
    mode = " split by region" if p.alt_split[a] else ""
    return f"{units} x {int(p.group_k[g0])} GPU on {types}{mode}"


def explain(placement: Placement, d: int) -> Explanation:
    """The explanation of demand index d."""
    p = placement.problem
    codes = offer_reasons(placement, d)
    counts = np.bincount(codes, minlength=len(REASONS))
    by_reason = {REASONS[i]: int(c) for i, c in enumerate(counts) if i and c}
    rejected_idx = np.flatnonzero(codes > 0)
    # list the closest misses first (highest reason code, then cheapest)
    order = np.lexsort((p.offer_price[rejected_idx], -codes[rejected_idx]))
    listed = rejected_idx[order[:MAX_LISTED_REJECTIONS]]
    rejected = tuple(
        OfferRejection(
            p.offer_ids[int(o)], REASONS[int(codes[o])], _detail(p, d, int(o), int(codes[o]))
        )
        for o in listed
    )
    placed = bool(placement.solution.chosen_alt[d] >= 0)
    return Explanation(
        demand_id=p.demand_ids[d],
        kind=kind_name(p, d),
        placed=placed,
        option=_option_label(placement, d),
        considered=p.n_offers,
        chosen=placement.assignments[p.demand_ids[d]] if placed else (),
        rejected=rejected,
        rejected_by_reason=by_reason,
        reason=None if placed else binding_reason(placement, d),
    )


def binding_reason(placement: Placement, d: int) -> str:
    """Why demand d is unplaced: the check that rules out the offers that came closest."""
    p = placement.problem
    _, groups = _groups_of(p, d)
    if p.n_offers == 0:
        return "capacity: there are no offers"
    static = np.zeros(p.n_offers, dtype=np.int8)
    for g in groups:
        static = np.maximum(
            static, np.where(p.mask(int(p.group_elig[g]), int(p.group_k[g])), 99, 0).astype(np.int8)
        )
        codes = p.reasons(int(p.group_elig[g]), int(p.group_k[g]))
        static = np.maximum(static, codes)
    if np.any(static == 99):
        n = int(np.sum(static == 99))
        return (
            f"capacity: {n} acceptable offer(s) lack enough free GPUs for all of it "
            "(taken by cheaper or larger placements)"
        )
    top = int(static.max())
    n = int(np.sum(static == top))
    o = int(np.flatnonzero(static == top)[np.argmin(p.offer_price[static == top])])
    name = REASONS[top]
    return f"{name}: no offer passes; closest {n} offer(s) fail on {name} ({_detail(p, d, o, top)})"
