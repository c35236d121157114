"""Serving placement as arrays: many buyers' serving demand in one period, at least cost.

The vectorised entry point for callers that place serving every period (the simulator
places a month hour by hour): the same decision as :func:`suanli.placement.place` on one
:class:`~suanli.placement.ServeDemand` per (buyer, workload) with an option per GPU type,
but on arrays and with buyers free to split their replicas over types and sites. With
``x[b,w,s,g]`` replicas of workload ``w`` for buyer ``b`` at site ``s`` on type ``g``:

    minimise   sum ask[s,g] k[w,g] x[b,w,s,g]  +  M sum u[b,w]
    subject to sum_{s,g} rps[w,g] x[b,w,s,g] + u[b,w] >= need[b,w]          (demand)
               sum_{b,w} k[w,g] x[b,w,s,g] <= free[s,g]                      (capacity)
               x[b,w,s,g] = 0 unless ok[b,w,s,g]             (latency budget, type, price)
               x, u >= 0

Buyers with the same workload and the same acceptable cells form one class (the
aggregation :mod:`suanli.placement.fast` uses), so the LP's size does not grow with the
number of buyers. It is solved by HiGHS and rounded to whole replicas within capacity:
each buyer's share of its class's LP replicas rounded down, then the largest fractions
rounded up while capacity lasts and the buyer still needs them, then any need still short
topped up at the cheapest acceptable cells with room. A solver failure raises
:class:`~suanli.errors.Unavailable`; it never returns an empty placement in its place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import linprog

from suanli.errors import Unavailable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

UNSERVED_PENALTY_CNY_PER_RPS = 1e4


@dataclass(frozen=True, slots=True, eq=False)
class ServingPlan:
    """Whole replicas ``[buyer, workload, site, GPU type]`` and the LP's lower bound on
    their cost (CNY per hour, unserved demand at the penalty)."""

    replicas: IntArray
    lp_cost: float
    lp_unserved_rps: float


def place_serving(
    need: FloatArray,
    free: IntArray,
    ask: FloatArray,
    gpus_per_replica: IntArray,
    rps: FloatArray,
    ok: BoolArray,
) -> ServingPlan:
    """Place ``need[b, w]`` requests/s on ``free[s, g]`` GPUs at ``ask[s, g]`` CNY per GPU-hour.

    ``gpus_per_replica[w, g]`` and ``rps[w, g]`` describe a replica (0 where the type cannot
    serve); ``ok[b, w, s, g]`` says where buyer ``b``'s workload ``w`` may go.
    """
    n_b, n_w = need.shape
    n_s, n_g = free.shape
    k, mu = gpus_per_replica, rps
    ok = (
        ok
        & (k[None, :, None, :] > 0)
        & (free[None, None, :, :] >= k[None, :, None, :])
        & (need[:, :, None, None] > 0)
    )
    replicas = np.zeros((n_b, n_w, n_s, n_g), dtype=np.int64)
    rows_ok = ok.reshape(n_b * n_w, n_s * n_g)
    row_w = np.tile(np.arange(n_w), n_b)
    active = np.nonzero(rows_ok.any(axis=1))[0]
    unplaceable = float(need.ravel().sum() - need.ravel()[active].sum())
    if active.size == 0:
        return ServingPlan(replicas, UNSERVED_PENALTY_CNY_PER_RPS * unplaceable, unplaceable)
    keys = np.column_stack([row_w[active], rows_ok[active].astype(np.int64)])
    class_keys, member_class = np.unique(keys, axis=0, return_inverse=True)
    member_class = member_class.ravel()
    n_q = class_keys.shape[0]
    class_w = class_keys[:, 0]
    class_need = np.bincount(member_class, weights=need.ravel()[active], minlength=n_q)
    qs, cells = np.nonzero(class_keys[:, 1:])
    ss, gs = cells // n_g, cells % n_g
    wq = class_w[qs]
    n_x = qs.size
    cost = np.concatenate([ask[ss, gs] * k[wq, gs], np.full(n_q, UNSERVED_PENALTY_CNY_PER_RPS)])
    rows = np.concatenate([qs, np.arange(n_q), n_q + cells])
    cols = np.concatenate([np.arange(n_x), n_x + np.arange(n_q), np.arange(n_x)])
    vals = np.concatenate([-mu[wq, gs], -np.ones(n_q), k[wq, gs].astype(np.float64)])
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(n_q + n_s * n_g, n_x + n_q))
    b_ub = np.concatenate([-class_need, free.ravel().astype(np.float64)])
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if result.status != 0 or result.x is None:
        raise Unavailable(f"the serving LP did not solve: {result.message}")
    x_class = result.x[:n_x]
    unserved = float(result.x[n_x:].sum()) + unplaceable
    lp_cost = float(result.fun) + UNSERVED_PENALTY_CNY_PER_RPS * unplaceable
    # Share each class's replicas among its members in proportion to their need.
    used = np.nonzero(x_class > 1e-9)[0]
    share = need.ravel()[active] / np.maximum(class_need[member_class], 1e-12)
    parts_r, parts_v = [], []
    for v in used:
        members = np.nonzero(member_class == qs[v])[0]
        parts_r.append(active[members])
        parts_v.append(np.full(members.size, v))
    if not parts_r:
        return ServingPlan(replicas, lp_cost, unserved)
    member_row = np.concatenate(parts_r)
    var = np.concatenate(parts_v)
    x = x_class[var] * share[np.searchsorted(active, member_row)]
    bs, ws = member_row // n_w, member_row % n_w
    ss, gs = ss[var], gs[var]
    whole = np.floor(x + 1e-9).astype(np.int64)
    np.add.at(replicas, (bs, ws, ss, gs), whole)
    left_free = free - np.einsum("bwsg,wg->sg", replicas, k)
    left_need = need - np.einsum("bwsg,wg->bw", replicas, mu)
    fraction = x - whole
    candidates = np.nonzero(fraction > 1e-6)[0]
    for v in candidates[np.argsort(-fraction[candidates], kind="stable")]:
        b, w, s, g = int(bs[v]), int(ws[v]), int(ss[v]), int(gs[v])
        if left_need[b, w] > 1e-9 and left_free[s, g] >= k[w, g]:
            replicas[b, w, s, g] += 1
            left_free[s, g] -= k[w, g]
            left_need[b, w] -= mu[w, g]
    _top_up(replicas, left_need, left_free, ask, k, mu, ok)
    return ServingPlan(replicas, lp_cost, unserved)


def _top_up(
    replicas: IntArray,
    left_need: FloatArray,
    left_free: IntArray,
    ask: FloatArray,
    k: IntArray,
    mu: FloatArray,
    ok: BoolArray,
) -> None:
    """Need rounding left short (a cell the LP filled exactly has no room to round up)
    takes whole replicas at the cheapest acceptable cells that still have room."""
    n_g = left_free.shape[1]
    for b, w in zip(*np.nonzero(left_need > 1e-9), strict=True):
        per_rps = np.where(
            ok[b, w], ask * k[w][None, :] / np.maximum(mu[w], 1e-12)[None, :], np.inf
        )
        for flat in np.argsort(per_rps, axis=None, kind="stable"):
            if left_need[b, w] <= 1e-9 or not np.isfinite(per_rps.flat[flat]):
                break
            s, g = divmod(int(flat), n_g)
            n = min(
                int(np.ceil(left_need[b, w] / mu[w, g] - 1e-9)), int(left_free[s, g] // k[w, g])
            )
            if n > 0:
                replicas[b, w, s, g] += n
                left_free[s, g] -= n * k[w, g]
                left_need[b, w] -= n * mu[w, g]
