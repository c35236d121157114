"""Exact clearing of one instrument whose book holds all-or-nothing (AON) bids.

With AON bids the traded volume is no longer a prefix of the demand curve. For a uniform
price :math:`p` let :math:`S(p)` be the ask quantity with reserve :math:`\\le p`,
:math:`D(p)` the divisible bid quantity with limit :math:`\\ge p` and :math:`A(p)` the AON
bids with limit :math:`\\ge p`. The most any clearing at :math:`p` can trade is

.. math::  V(p) = \\min\\big(S(p),\\ D(p) + \\max\\{\\textstyle\\sum_{j\\in T} q_j :
           T \\subseteq A(p),\\ \\sum_{j\\in T} q_j \\le S(p)\\}\\big)

and it is attained (fill the AON set T whole, divisible bids best first, asks cheapest
first). :math:`V` is constant between consecutive order prices and largest at one of them, so
the optimum over all prices is found by evaluating :math:`V(p)` at the distinct prices. The
inner maximum is a subset sum over GPU counts, solved exactly with a bitset (a Python
integer shifted by each quantity: :math:`O(|A| \\cdot S / 64)` word operations).

To stay fast, candidate prices are visited in decreasing order of the divisible relaxation
:math:`\\min(S, D + \\sum_{A(p)} q)`, an upper bound on :math:`V(p)`; the scan stops once the
bound falls below the best volume found. Among volume-maximal prices the one with the larger
surplus wins (then the lower price); the scan of equal-bound prices is capped at
``max_plateau`` evaluations. Within one price the subset takes the largest reachable AON
total and, among subsets with that total, prefers bids earlier in priority order (higher
limit, then earlier arrival): a tie-break, not a proven surplus optimum. Beyond
``MAX_BITSET_BITS`` (AON bids x GPUs of supply; far above real books) the subset falls back to
first fit in priority order, which keeps the prices valid but may trade less than optimal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
MAX_BITSET_BITS = 200_000_000  # exact subset sum up to (AON bids x supply) of this size
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class AonClearing:
    bid_fill: IntArray
    ask_fill: IntArray
    volume: int
    price: int  # -1 when nothing trades
    price_lo: int
    price_hi: int
    surplus: int


def _subset(quantities: list[int], cap: int) -> tuple[int, list[bool]]:
    """Largest reachable sum <= cap and which items make it (prefer earlier items)."""
    if cap <= 0 or not quantities:
        return 0, [False] * len(quantities)
    if cap * len(quantities) > MAX_BITSET_BITS:
        # Too large for an exact table: first fit in priority order (documented fallback).
        chosen, total = [], 0
        for q in quantities:
            take = total + q <= cap
            chosen.append(take)
            total += q if take else 0
        return total, chosen
    mask = (1 << (cap + 1)) - 1
    # Items are added in reverse priority order so that backtracking, which drops an item
    # whenever the target stays reachable without it, drops low-priority items first.
    order = list(range(len(quantities)))[::-1]
    prefix = [1]
    for i in order:
        prefix.append((prefix[-1] | (prefix[-1] << quantities[i])) & mask)
    target = prefix[-1].bit_length() - 1
    chosen = [False] * len(quantities)
    t = target
    for step in range(len(order), 0, -1):
        i = order[step - 1]
        if (prefix[step - 1] >> t) & 1:
            continue
        chosen[i] = True
        t -= quantities[i]
    return target, chosen


def _fill_at(
    p: int,
    pb: IntArray,
    qb: IntArray,
    aon: BoolArray,
    pa: IntArray,
    qa: IntArray,
) -> tuple[int, IntArray, IntArray]:
    eligible_ask = pa <= p
    supply = int(qa[eligible_ask].sum())
    eligible_bid = pb >= p
    div = eligible_bid & ~aon
    demand_div = int(qb[div].sum())
    aon_idx = np.flatnonzero(eligible_bid & aon)
    total_aon, chosen = _subset([int(q) for q in qb[aon_idx]], supply)
    volume = min(supply, demand_div + total_aon)
    bid_fill = np.zeros(len(pb), dtype=np.int64)
    bid_fill[aon_idx[np.array(chosen, dtype=bool)]] = qb[aon_idx[np.array(chosen, dtype=bool)]]
    rest = volume - total_aon
    div_idx = np.flatnonzero(div)
    cum = np.cumsum(qb[div_idx])
    bid_fill[div_idx] = np.clip(rest - (cum - qb[div_idx]), 0, qb[div_idx])
    ask_idx = np.flatnonzero(eligible_ask)
    cum_a = np.cumsum(qa[ask_idx])
    ask_fill = np.zeros(len(pa), dtype=np.int64)
    ask_fill[ask_idx] = np.clip(volume - (cum_a - qa[ask_idx]), 0, qa[ask_idx])
    return volume, bid_fill, ask_fill


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
    *,
    max_plateau: int = 64,
) -> AonClearing:
    """Clear one instrument exactly. Bids must be sorted by (limit desc, arrival), asks by
    (reserve asc, arrival)."""
    none = AonClearing(
        np.zeros(len(pb), dtype=np.int64), np.zeros(len(pa), dtype=np.int64), 0, -1, 0, 0, 0
    )
    if len(pb) == 0 or len(pa) == 0:
        return none
    candidates = np.unique(np.concatenate((pb, pa)))
    supply = np.concatenate(([0], np.cumsum(qa)))[np.searchsorted(pa, candidates, side="right")]
    neg = -pb
    n_ge = np.searchsorted(neg, -candidates, side="right")  # bids with limit >= p
    demand = np.concatenate(([0], np.cumsum(qb)))[n_ge]
    bound = np.minimum(supply, demand)
    order = np.lexsort((candidates, -bound))
    best: tuple[int, int, int] | None = None  # volume, surplus, -price
    best_fill: tuple[IntArray, IntArray] | None = None
    plateau = 0
    for c in order:
        if bound[c] <= 0 or (best is not None and bound[c] < best[0]):
            break
        if best is not None and bound[c] == best[0]:
            plateau += 1
            if plateau > max_plateau:
                break
        p = int(candidates[c])
        volume, bid_fill, ask_fill = _fill_at(p, pb, qb, aon, pa, qa)
        if volume <= 0:
            continue
        surplus = int((bid_fill * pb).sum() - (ask_fill * pa).sum())
        key = (volume, surplus, -p)
        if best is None or key > best:
            best, best_fill = key, (bid_fill, ask_fill)
    if best is None or best_fill is None:
        return none
    bid_fill, ask_fill = best_fill
    lo, hi = _interval(pb, qb, aon, bid_fill, pa, qa, ask_fill)
    return AonClearing(bid_fill, ask_fill, best[0], (lo + hi) // 2, lo, hi, best[1])
