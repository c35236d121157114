r"""Exact placement: a mixed-integer program solved by HiGHS (``scipy.optimize.milp``).

Sets: demands :math:`d`, their alternatives :math:`a \in A_d` (serving option x joint or
split by region), the groups :math:`g \in G_a` of an alternative (``n_g`` units of ``k_g``
GPUs with one eligibility), offers :math:`o`, and the acceptable pairs
:math:`(g, o) \in P` (GPU type, memory, window, interruptibility, fabric and interconnect,
price limit, and RTT within budget for every region the group serves).

Variables:
    :math:`x_{go} \in \mathbb{Z}_{\ge 0}` units of group g on offer o,
    :math:`z_a \in \{0, 1\}` alternative a is used,
    :math:`u_d \in \{0, 1\}` demand d is left unplaced.

Objective (CNY per hour):

.. math::
    \min \sum_{(g,o) \in P} c_o f_{go} x_{go} + \sum_d \pi_d u_d

with :math:`c_o` the offer's price plus the weighted power cost, :math:`f_{go}` the GPUs a
unit of :math:`k_g` takes in o (``k`` if it packs evenly into a node, else whole nodes) and
:math:`\pi_d` the penalty for leaving d unplaced (per GPU for ``objective="cost"``, so
placing more GPUs comes first; per demand for ``"placed"``).

Constraints:

.. math::
    \sum_{a \in A_d} z_a + u_d = 1 \quad \forall d                      \\
    \sum_{o} x_{go} = n_g z_{a(g)} \quad \forall g                     \\
    \sum_{(g,o) \in P} f_{go} x_{go} \le \mathrm{cap}_o \quad \forall o

A gang is one unit (``n_g = 1``), so it lands on one offer: one site, one fabric. Latency,
price and fabric limits are enforced by the pairs that exist at all. HiGHS proves
optimality (``mip_rel_gap = 0``) on small and medium instances; its dual bound is returned
as the lower bound when the time limit stops it first.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from suanli.errors import Unavailable
from suanli.placement.problem import IntArray, Problem
from suanli.placement.result import Solution


def pairs(problem: Problem) -> tuple[IntArray, IntArray]:
    """All acceptable (group, offer) pairs, built per (eligibility, k) class."""
    p = problem
    if len(p.group_k) == 0 or p.n_offers == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = p.group_elig * (int(p.group_k.max()) + 1) + p.group_k
    uniq, inverse = np.unique(keys, return_inverse=True)
    gs: list[IntArray] = []
    os: list[IntArray] = []
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for c in range(len(uniq)):
        members = order[bounds[c] : bounds[c + 1]]
        g0 = int(members[0])
        allowed = np.flatnonzero(p.mask(int(p.group_elig[g0]), int(p.group_k[g0])))
        gs.append(np.repeat(members, len(allowed)))
        os.append(np.tile(allowed, len(members)))
    return np.concatenate(gs), np.concatenate(os)


def solve_milp(
    problem: Problem,
    *,
    time_limit_s: float | None = 30.0,
    node_limit: int | None = None,
    mip_rel_gap: float = 0.0,
) -> Solution:
    """Solve the placement MILP (formulation in the module docstring). With
    ``time_limit_s=None`` only ``node_limit`` bounds the search, so the result does not
    depend on the machine's speed."""
    p = problem
    if p.n_demands == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Solution(empty, empty, empty, empty, "milp", "optimal", 0.0)
    pg, po = pairs(p)
    n_x, n_a, n_d, n_o = len(pg), len(p.alt_demand), p.n_demands, p.n_offers
    n_g = len(p.group_k)
    fp = p.footprint(p.group_k[pg], p.offer_node[po]).astype(np.float64)
    # a split plan costs a hair more, so joint replicas win ties
    split_tie = 1e-6 * p.alt_split.astype(np.float64)
    cost = np.concatenate([p.offer_cost[po] * fp, split_tie, p.unplaced_penalty()])
    x_ix = np.arange(n_x)
    z_ix = n_x + np.arange(n_a)
    u_ix = n_x + n_a + np.arange(n_d)
    n_var = n_x + n_a + n_d

    # rows 0..n_d-1: choose one alternative or unplaced
    r1 = np.concatenate([p.alt_demand, np.arange(n_d)])
    c1 = np.concatenate([z_ix, u_ix])
    v1 = np.ones(n_a + n_d)
    # rows n_d..n_d+n_g-1: units of each group
    r2 = n_d + np.concatenate([pg, np.arange(n_g)])
    c2 = np.concatenate([x_ix, z_ix[p.group_alt]])
    v2 = np.concatenate([np.ones(n_x), -p.group_units.astype(np.float64)])
    # rows after: offer capacity
    r3 = n_d + n_g + po
    rows = np.concatenate([r1, r2, r3])
    cols = np.concatenate([c1, c2, x_ix])
    vals = np.concatenate([v1, v2, fp])
    a_mat = coo_matrix((vals, (rows, cols)), shape=(n_d + n_g + n_o, n_var)).tocsr()
    lower = np.concatenate([np.ones(n_d), np.zeros(n_g), np.full(n_o, -np.inf)])
    upper = np.concatenate([np.ones(n_d), np.zeros(n_g), p.offer_cap.astype(np.float64)])
    ub = np.concatenate([p.group_units[pg].astype(np.float64), np.ones(n_a + n_d)])
    res = milp(
        cost,
        constraints=LinearConstraint(a_mat, lower, upper),
        integrality=np.ones(n_var),
        bounds=Bounds(np.zeros(n_var), ub),
        options={
            "mip_rel_gap": mip_rel_gap,
            "disp": False,
            **({"time_limit": time_limit_s} if time_limit_s is not None else {}),
            **({"node_limit": node_limit} if node_limit is not None else {}),
        },
    )
    if res.x is None:
        raise Unavailable(
            f"the exact solver found no plan within its limits ({res.message})",
            hint="Use method='fast' or raise the time limit.",
        )
    x = np.rint(res.x).astype(np.int64)
    keep = np.flatnonzero(x[:n_x] > 0)
    z = x[n_x : n_x + n_a]
    chosen = np.full(n_d, -1, dtype=np.int64)
    used = np.flatnonzero(z > 0)
    chosen[p.alt_demand[used]] = used
    optimal = res.status == 0
    bound = getattr(res, "mip_dual_bound", None)
    return Solution(
        group=pg[keep],
        offer=po[keep],
        units=x[:n_x][keep],
        chosen_alt=chosen,
        method="milp",
        status="optimal" if optimal else "time_limit",
        lower_bound=float(res.fun) if optimal else (float(bound) if bound is not None else None),
    )
