"""Exact clearing of one instrument whose book holds all-or-nothing (AON) bids.

An *allocation* fills each bid (an AON bid wholly or not at all, a divisible bid by any
whole number of GPUs up to its quantity) and each ask, with as many GPUs bought as sold,
such that one uniform price is acceptable to every filled order: the highest filled
reserve :math:`a^*` is at most the lowest filled limit. Its volume is the GPUs traded,
its surplus :math:`\\sum_b f_b\\,\\ell_b - \\sum_a f_a\\,r_a` (limits :math:`\\ell`,
reserves :math:`r`, in fen per GPU-hour). We want, among the allocations of maximal
volume, one of maximal surplus.

**Reduction to one threshold.** For a price :math:`p` let :math:`F(p)` be the allocations
that use only bids with :math:`\\ell_b \\ge p` and asks with :math:`r_a \\le p`. Every
allocation lies in :math:`F(a^*)`, and every member of :math:`F(p)` is an allocation, so
it suffices to search :math:`F(p)` for :math:`p` among the distinct ask reserves.

**One threshold.** Inside :math:`F(p)` the asks are interchangeable except for cost, so a
volume :math:`V \\le S(p)` (eligible supply) costs at least the :math:`V` cheapest units,
and those are eligible (asks are sorted by reserve). On the bid side choose an AON set
:math:`T` with :math:`\\sum_T q = s` and :math:`V - s` divisible units, the best ones
(highest limits) being the cheapest to pick. Writing :math:`B_p(s)` for the largest value
:math:`\\sum_T q\\,\\ell` of an eligible AON set of total exactly :math:`s` (a 0/1
knapsack solved exactly by dynamic programming over :math:`s = 0..C`) and
:math:`D_p(d)` for the value of the best :math:`d` eligible divisible units:

.. math::  V(p) = \\max\\{\\min(S(p),\\ s + D(p)) : B_p(s) > -\\infty,\\ s \\le S(p)\\}

.. math::  W(p) = \\max_{s} \\big(B_p(s) + D_p(V - s)\\big) - \\mathrm{cost}(V),
           \\quad \\max(0, V - D(p)) \\le s \\le V

and the answer is the lexicographic maximum of :math:`(V(p), W(p))` over the thresholds.
Scanning thresholds from high to low only ever adds AON bids, so the knapsack table is
built once, item by item (:math:`O(|A| \\cdot C)` with NumPy rows, :math:`C` = the most GPUs
that can trade), and each threshold costs :math:`O(C)`. The chosen AON set is recovered
from the per-item "taken" rows. Ties: equal (volume, surplus) goes to the lower
threshold, and inside the knapsack to AON bids earlier in priority (higher limit, then
arrival).

The price rule is the one of divisible books: the midpoint of the allocation's
competitive interval (or of its feasible interval when AON bids leave no competitive one).

Beyond ``MAX_TABLE_CELLS`` (AON bids x tradeable GPUs; far above real books) the table
would not fit in memory; such an instrument is cleared greedily (AON bids first fit in
priority order at each threshold) and reported with method ``"aon-greedy"``, never as
exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MAX_TABLE_CELLS = 20_000_000  # AON bids x tradeable GPUs cleared exactly (bytes of "taken")
_NEG = -(2**62)  # "unreachable" in the knapsack table


@dataclass(frozen=True, slots=True)
class AonClearing:
    bid_fill: IntArray
    ask_fill: IntArray
    volume: int
    price: int  # -1 when nothing trades
    price_lo: int
    price_hi: int
    surplus: int
    exact: bool = True


def _unit_value(cum_q: IntArray, cum_v: IntArray, price: IntArray, units: IntArray) -> IntArray:
    """Value of the first ``units`` units of sorted orders (``units`` <= their total)."""
    if len(cum_q) == 0:
        return np.zeros(len(units), dtype=np.int64)
    k = np.minimum(np.searchsorted(cum_q, units, side="left"), len(cum_q) - 1)
    value = cum_v[k] - (cum_q[k] - units) * price[k]
    return np.where(units > 0, value, 0).astype(np.int64)


def _interval(
    pb: IntArray,
    qb: IntArray,
    aon: BoolArray,
    bid_fill: IntArray,
    pa: IntArray,
    qa: IntArray,
    ask_fill: IntArray,
) -> tuple[int, int]:
    """The competitive price interval of a fill, or the merely feasible one if it is empty."""
    filled_ask_max = int(pa[ask_fill > 0].max())
    filled_bid_min = int(pb[bid_fill > 0].min())
    short_bids = (bid_fill < qb) & ~aon
    open_asks = ask_fill < qa
    lo = max(filled_ask_max, int(pb[short_bids].max()) if short_bids.any() else filled_ask_max)
    hi = min(filled_bid_min, int(pa[open_asks].min()) if open_asks.any() else filled_bid_min)
    if lo > hi:
        return filled_ask_max, filled_bid_min
    return lo, hi


def clear_with_aon(
    pb: IntArray,
    qb: IntArray,
    aon: BoolArray,
    pa: IntArray,
    qa: IntArray,
) -> AonClearing:
    """Clear one instrument exactly (volume first, then surplus). Bids must be sorted by
    (limit desc, arrival), asks by (reserve asc, arrival)."""
    pb, qb, pa, qa = (np.asarray(x, dtype=np.int64) for x in (pb, qb, pa, qa))
    aon = np.asarray(aon, dtype=bool)
    none = AonClearing(
        np.zeros(len(pb), dtype=np.int64), np.zeros(len(pa), dtype=np.int64), 0, -1, 0, 0, 0
    )
    if len(pb) == 0 or len(pa) == 0:
        return none
    cap = int(min(qa.sum(), qb.sum()))
    aon_idx = np.flatnonzero(aon)
    exact = len(aon_idx) * (cap + 1) <= MAX_TABLE_CELLS
    div_idx = np.flatnonzero(~aon)
    cum_qd, cum_vd = np.cumsum(qb[div_idx]), np.cumsum(qb[div_idx] * pb[div_idx])
    cum_qa, cum_va = np.cumsum(qa), np.cumsum(qa * pa)

    table = np.full(cap + 1, _NEG, dtype=np.int64)
    table[0] = 0
    taken = np.zeros((len(aon_idx), cap + 1) if exact else (0, 0), dtype=bool)
    added = 0  # AON bids (a prefix of aon_idx) already in the table

    best: tuple[int, int] | None = None  # (volume, surplus)
    best_at: tuple[int, int, int, list[int]] = (0, 0, 0, [])  # AON added, s, n_div, greedy set
    for p in np.unique(pa)[::-1].tolist():
        n_ask = int(np.searchsorted(pa, p, side="right"))
        supply = int(cum_qa[n_ask - 1])
        n_bid = int(np.searchsorted(-pb, -p, side="right"))  # bids with limit >= p
        while added < len(aon_idx) and aon_idx[added] < n_bid:
            i = int(aon_idx[added])
            q, v = int(qb[i]), int(qb[i] * pb[i])
            if exact and q <= cap:
                source = table[: cap + 1 - q]
                candidate = source + v
                better = (source > _NEG) & (candidate > table[q:])
                taken[added, q:] = better
                table[q:] = np.where(better, candidate, table[q:])
            added += 1
        n_div = int(np.searchsorted(div_idx, n_bid, side="left"))
        demand_div = int(cum_qd[n_div - 1]) if n_div else 0
        if best is not None and min(supply, demand_div + int(qb[aon_idx[:added]].sum())) < best[0]:
            continue  # even taking every eligible AON bid cannot reach the best volume
        greedy: list[int] = []
        if exact:
            reach = np.flatnonzero(table[: min(supply, cap) + 1] > _NEG)
            volume = min(supply, int(reach[-1]) + demand_div)
            lo = max(0, volume - demand_div)
            s = np.arange(lo, volume + 1)
            s = s[table[s] > _NEG]
            values = table[s] + _unit_value(cum_qd[:n_div], cum_vd[:n_div], pb[div_idx], volume - s)
            pick = int(np.argmax(values))
            s_best, bid_value = int(s[pick]), int(values[pick])
        else:
            s_best = 0
            for i in aon_idx[:added].tolist():
                if s_best + int(qb[i]) <= supply:
                    greedy.append(i)
                    s_best += int(qb[i])
            volume = min(supply, s_best + demand_div)
            divisible = np.array([volume - s_best], dtype=np.int64)
            bid_value = int((qb[greedy] * pb[greedy]).sum()) + int(
                _unit_value(cum_qd[:n_div], cum_vd[:n_div], pb[div_idx], divisible)[0]
            )
        if volume <= 0:
            continue
        surplus = bid_value - int(_unit_value(cum_qa, cum_va, pa, np.array([volume]))[0])
        if best is None or (volume, surplus) >= best:
            best = (volume, surplus)
            best_at = (added, s_best, n_div, [] if exact else greedy)
    if best is None:
        return none

    volume, surplus = best
    n_added, s_left, n_div, greedy_set = best_at
    bid_fill = np.zeros(len(pb), dtype=np.int64)
    bid_fill[greedy_set] = qb[greedy_set]
    if exact:
        for k in range(n_added - 1, -1, -1):
            if s_left > 0 and taken[k, s_left]:
                i = int(aon_idx[k])
                bid_fill[i] = qb[i]
                s_left -= int(qb[i])
    rest = volume - int(bid_fill.sum())
    chosen_div = div_idx[:n_div]
    cum = np.cumsum(qb[chosen_div])
    bid_fill[chosen_div] = np.clip(rest - (cum - qb[chosen_div]), 0, qb[chosen_div])
    ask_fill = np.clip(volume - (cum_qa - qa), 0, qa).astype(np.int64)
    lo_p, hi_p = _interval(pb, qb, aon, bid_fill, pa, qa, ask_fill)
    return AonClearing(bid_fill, ask_fill, volume, (lo_p + hi_p) // 2, lo_p, hi_p, surplus, exact)
