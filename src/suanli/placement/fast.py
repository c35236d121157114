r"""Fast placement at national scale: class-aggregated min-cost flow, then LP-guided
rounding in layers by unit size, then a greedy pass on what is left.

1. **Classes.** Demands with the same alternatives (the same (eligibility, unit size)
   groups) form a class; there are few of them however many demands there are. A *unit key*
   :math:`q = (e, k)` is an eligibility with a unit size.
2. **LP bound.** A min-cost flow (OR-Tools ``SimpleMinCostFlow``) on the network
   class :math:`\to q \to` offer :math:`\to` sink, in GPUs, with the class's fewest-GPU
   alternative as its supply, arcs :math:`q \to o` only where o is acceptable (the latency
   mask, type, price, fabric, window), cost :math:`c_o f_{ko} / k` per GPU, offer capacity on
   :math:`o \to` sink, and an unmet-demand arc at the penalty. With one alternative per class
   it is exactly the LP relaxation of the MILP in :mod:`suanli.placement.milp` (relaxing
   integrality only); with several, each alternative's arcs carry its exact cost per GPU of
   the class's smallest alternative but use capacity only for those GPUs (a further
   relaxation), so the optimum is always a lower bound.
3. **Choose alternatives** by the LP: a class's demands take its alternatives in the
   proportions the flow sends to them (a cumulative sum and ``searchsorted``).
4. **Round in layers by unit size, largest first.** Each layer is an integral min-cost flow
   whose unit is one whole unit of k GPUs (one gang, one replica), offer capacities
   :math:`\lfloor \mathrm{free}_o / f_{ko} \rfloor`, so no unit is ever split. Each
   :math:`q \to o` arc has a *quota* part of capacity :math:`\lfloor \mathrm{LP}_{qo}/k \rfloor`
   at cost and an *overflow* part at twice the cost: the layer follows the LP plan where it
   can and deviates where rounding leaves units over. Flows are decoded to demands by
   cumulative sums. If this leaves demand unplaced that the LP placed, a second pass opens
   the capacity the LP plans for later (smaller) layers to the current one only at a high
   price (a stand-in for the shadow price of that capacity), so large units do not crowd
   out small ones with tight budgets; the better of the two passes is kept.
5. **Residual.** A demand not completely placed is released and, with the other leftovers,
   placed greedily (largest first, cheapest acceptable offer, any alternative) on what is
   free; if a few are still unplaced, small node-limited MILPs re-solve them with the
   demands blocking their offers (:mod:`suanli.placement.repair`), before the guarded
   second pass of step 4 is tried.

Why this method: per-demand LP/MILP does not scale (millions of variables at 10k demands;
HiGHS and CP-SAT gave no answer in minutes in the study recorded in
``shared/notes/placement.md``), and greedy is fast but far above the bound. The flow
network's size depends on classes and offers, not on demands, and OR-Tools' min-cost flow
solves it in a fraction of a second. Measured here with ``suanli bench placement`` (2 cores
shared with other work, load average 2-5; CPU time is this process's):

=========================  ==========  =====================  ============================
instance (seed 0)          fast CPU    gap to LP bound        alternatives, same instance
=========================  ==========  =====================  ============================
300 req., 160 offers       0.27 s      0.06%                  MILP optimal in 4.3 s CPU;
                                                              fast cost 0.08% above it
2,000 req., 400 offers     1.26 s      0.16%, 0 unplaced      MILP: 60 s limit, 1,776 of
                           (repair)                           2,000 still unplaced
100k req., 2,000 offers    1.0-1.3 s   0.11-0.15%, 0 unpl.    nearest +15-16% cost;
                                                              cheapest type 28% unplaced
1M req., 10,000 offers     5.5 s       0.12%, 0 unplaced      nearest +17%; cheapest type
                                                              26% unplaced
=========================  ==========  =====================  ============================

Tried and dropped: chaining RTT-budget tiers so each offer appears once per chain (a fifth
fewer LP arcs, but larger layer networks: slower overall), and layer networks restricted to
the arcs the LP used (faster, but the gap grew to 0.7%).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from ortools.graph.python import min_cost_flow

from suanli.errors import Unavailable
from suanli.placement.baselines import greedy, price_rank
from suanli.placement.problem import FloatArray, IntArray, Problem
from suanli.placement.repair import repair
from suanli.placement.result import Solution

SCALE = 100.0  # integer cost units per CNY per hour (prices are quoted to 0.01 CNY)
OVERFLOW_EXTRA = 1.0
FEW = 20  # leftovers the repair MILP takes on directly
RESERVE_PRICE = 10.0  # extra per GPU, in units of the dearest offer's price (second pass)


def _min_cost_flow(
    n_nodes: int,
    tails: IntArray,
    heads: IntArray,
    caps: IntArray,
    costs: IntArray,
    supply: IntArray,
) -> IntArray:
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        caps.astype(np.int64),
        costs.astype(np.int64),
    )
    nodes = np.flatnonzero(supply)
    smcf.set_nodes_supplies(nodes.astype(np.int32), supply[nodes].astype(np.int64))
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise Unavailable(f"min-cost flow failed with status {status}")
    flows: IntArray = np.asarray(smcf.flows(arcs), dtype=np.int64)
    return flows


def _signatures(p: Problem, gq: IntArray) -> IntArray:
    """A hash per demand of its (alternative, unit key) sequence."""
    g_demand = p.alt_demand[p.group_alt]
    alt_start = p.alt_range()
    grp_start = p.group_range()
    pos = np.arange(len(gq)) - grp_start[alt_start[g_demand]]
    alt_local = p.group_alt - alt_start[g_demand]
    token = (gq.astype(np.uint64) + np.uint64(1)) * np.uint64(1_000_003) + alt_local.astype(
        np.uint64
    )
    powers = np.power(np.uint64(0x9E3779B97F4A7C15), pos.astype(np.uint64) + np.uint64(1))
    h = np.zeros(p.n_demands, dtype=np.uint64)
    np.add.at(h, g_demand, token * powers)
    return h.view(np.int64)


@dataclass(frozen=True, slots=True)
class _Network:
    """The factored arcs: unit key q -> node n = (eligibility, GPU type, k, ratio) -> offer."""

    q_k: IntArray  # unit size per q
    q_ratio: FloatArray
    qn_q: IntArray  # q -> n arcs
    qn_n: IntArray
    n_k: IntArray
    n_ratio: FloatArray
    no_n: IntArray  # n -> offer arcs (sorted by n)
    no_o: IntArray
    no_fp: IntArray
    no_cost_per_gpu: FloatArray  # per GPU of the demand's smallest alternative


def _network(
    p: Problem, gq_key: IntArray, q_e: IntArray, q_k: IntArray, q_ratio: FloatArray
) -> _Network:
    by_type = [np.flatnonzero(p.offer_type == t) for t in range(len(p.type_names))]
    # n nodes ignore the type set (each n has one type), so type sets share them
    base: dict[object, int] = {}
    e_base = [base.setdefault(replace(e, types=()), i) for i, e in enumerate(p.eligibilities)]
    # units that pack evenly into every node share n nodes with k = 1 (their cost per GPU and
    # acceptable offers are the same; only "offer has >= k GPUs" is relaxed in the LP)
    nodes = np.unique(p.offer_node)
    packs = {int(k): bool(np.all(nodes % k == 0)) for k in np.unique(q_k)}
    n_index: dict[tuple[int, int, int, float], int] = {}
    qn_q: list[int] = []
    qn_key: list[int] = []
    key_rows: list[tuple[int, int, int, float]] = []
    for q in range(len(q_e)):
        e, k, ratio = int(q_e[q]), int(q_k[q]), float(q_ratio[q])
        for t in p.eligibilities[e].types:
            key = (e_base[e], t, 1 if packs[k] else k, ratio)
            j = n_index.get(key)
            if j is None:
                j = n_index[key] = len(key_rows)
                key_rows.append(key)
            qn_q.append(q)
            qn_key.append(j)
    # keys with the same acceptable offers, unit size and ratio share one n node
    content: dict[tuple[int, float, bytes], int] = {}
    key_to_n: list[int] = []
    n_rows: list[tuple[int, int, int, float]] = []
    offers: list[IntArray] = []
    for e, t, k, ratio in key_rows:
        idx = by_type[t]
        acceptable = idx[p.mask(e, k, any_type=True)[idx]]
        n = content.setdefault((k, ratio, acceptable.tobytes()), len(n_rows))
        if n == len(n_rows):
            n_rows.append((e, t, k, ratio))
            offers.append(acceptable)
        key_to_n.append(n)
    qn_n = np.asarray(key_to_n, dtype=np.int64)[np.asarray(qn_key, dtype=np.int64)]
    # a q may reach the same n through two keys; keep one arc
    _, first = np.unique(np.asarray(qn_q) * (len(n_rows) + 1) + qn_n, return_index=True)
    qn_q_arr = np.asarray(qn_q, dtype=np.int64)[first]
    qn_n = qn_n[first]
    n_k = np.array([r[2] for r in n_rows], dtype=np.int64)
    n_ratio = np.array([r[3] for r in n_rows], dtype=np.float64)
    no_n = np.repeat(np.arange(len(n_rows)), [len(o) for o in offers]).astype(np.int64)
    no_o = np.concatenate(offers).astype(np.int64) if offers else np.zeros(0, np.int64)
    no_fp = p.footprint(n_k[no_n], p.offer_node[no_o])
    cost = p.offer_cost[no_o] * no_fp / n_k[no_n] * n_ratio[no_n]
    return _Network(
        q_k=q_k,
        q_ratio=q_ratio,
        qn_q=qn_q_arr,
        qn_n=qn_n,
        n_k=n_k,
        n_ratio=n_ratio,
        no_n=no_n,
        no_o=no_o,
        no_fp=no_fp,
        no_cost_per_gpu=cost,
    )


def solve_fast(p: Problem) -> Solution:
    """Solve with the method in the module docstring."""
    n_d, n_o = p.n_demands, p.n_offers
    if n_d == 0 or n_o == 0:
        return greedy(p, price_rank, lambda d, a: a, "fast")
    kmax = int(p.group_k.max()) + 1
    gmin = p.demand_min_gpus()
    g_demand = p.alt_demand[p.group_alt]
    # GPUs of the group's alternative per GPU of the demand's smallest alternative
    ratios, g_ratio = np.unique(
        np.round(p.alt_gpus()[p.group_alt] / gmin[g_demand], 6), return_inverse=True
    )
    qkeys, gq = np.unique(
        (p.group_elig * kmax + p.group_k) * len(ratios) + g_ratio.ravel(), return_inverse=True
    )
    gq = gq.ravel().astype(np.int64)
    q_ratio = ratios[qkeys % len(ratios)]
    q_e, q_k = (qkeys // len(ratios)) // kmax, (qkeys // len(ratios)) % kmax
    n_q = len(qkeys)
    net = _network(p, gq, q_e, q_k, q_ratio)
    n_n = len(net.n_k)

    # classes of demands
    _, dclass = np.unique(_signatures(p, gq), return_inverse=True)
    dclass = dclass.ravel().astype(np.int64)
    n_c = int(dclass.max()) + 1
    supply_c = np.bincount(dclass, weights=gmin, minlength=n_c).astype(np.int64)
    rep = np.full(n_c, n_d, dtype=np.int64)
    np.minimum.at(rep, dclass, np.arange(n_d))
    alt_start, _grp_start = p.alt_range(), p.group_range()
    # class -> unit key arcs (from each class's representative demand)
    is_rep = rep[dclass[g_demand]] == g_demand
    cq_c = dclass[g_demand[is_rep]]
    cq_q = gq[is_rep]
    cq_alt = (p.group_alt - alt_start[g_demand])[is_rep]
    _, first = np.unique(cq_c * n_q + cq_q, return_index=True)
    cq_c, cq_q, cq_alt = cq_c[first], cq_q[first], cq_alt[first]

    # LP network: classes | unit keys | n nodes | offers | sink
    node_q = n_c
    node_n = node_q + n_q
    node_o = node_n + n_n
    sink = node_o + n_o
    total = int(supply_c.sum())
    penalty = _class_penalty(p, dclass, gmin, n_c)
    n_cq, n_qn, n_no = len(cq_c), len(net.qn_q), len(net.no_n)
    tails = np.concatenate(
        [cq_c, node_q + net.qn_q, node_n + net.no_n, node_o + np.arange(n_o), np.arange(n_c)]
    )
    heads = np.concatenate(
        [
            node_q + cq_q,
            node_n + net.qn_n,
            node_o + net.no_o,
            np.full(n_o, sink),
            np.full(n_c, sink),
        ]
    )
    caps = np.concatenate([supply_c[cq_c], np.full(n_qn + n_no, total), p.offer_cap, supply_c])
    costs = np.concatenate(
        [
            np.zeros(n_cq + n_qn),
            np.rint(net.no_cost_per_gpu * SCALE),
            np.zeros(n_o),
            np.rint(penalty * SCALE),
        ]
    ).astype(np.int64)
    supply = np.zeros(sink + 1, dtype=np.int64)
    supply[:n_c] = supply_c
    supply[sink] = -total
    flows = _min_cost_flow(sink + 1, tails, heads, caps, costs, supply)
    f_cq = flows[:n_cq]
    f_no = flows[n_cq + n_qn : n_cq + n_qn + n_no]
    f_unmet = flows[-n_c:]
    bound = float(np.sum(f_no * net.no_cost_per_gpu) + np.sum(f_unmet * penalty))

    chosen = _choose_alternatives(p, dclass, gmin, n_c, cq_c, cq_alt, f_cq, alt_start)
    quota_gpus = np.floor(f_no * net.n_ratio[net.no_n] + 1e-9).astype(np.int64)
    f_qn = flows[n_cq : n_cq + n_qn]
    lp_used = np.bincount(net.no_o, weights=quota_gpus, minlength=n_o)
    lp_slack = (p.offer_cap - lp_used).astype(np.int64)
    lp_unmet = int(f_unmet.sum())

    def lost(r: Rows) -> int:  # unplaced demands beyond what the LP leaves unplaced
        return int(gmin[r[3] < 0].sum()) - lp_unmet

    rows = _round_layers(p, gq, net, quota_gpus, f_qn, chosen, lp_slack, 0.0)
    if lost(rows) > 0 and np.count_nonzero(rows[3] < 0) <= FEW:
        rows = repair(p, rows)
    if lost(rows) > 0:  # round again, guarding the capacity later layers need
        guarded = _round_layers(p, gq, net, quota_gpus, f_qn, chosen, lp_slack, RESERVE_PRICE)
        rows = min(rows, repair(p, guarded), key=lambda r: _objective(p, r))
    group, offer, units, final_alt = rows
    return Solution(
        group=group,
        offer=offer,
        units=units,
        chosen_alt=final_alt,
        method="fast",
        status="heuristic",
        lower_bound=bound if p.objective == "cost" else None,
        lp_unplaced_gpus=int(f_unmet.sum()),
    )


def _class_penalty(p: Problem, dclass: IntArray, gmin: IntArray, n_c: int) -> FloatArray:
    if p.objective == "cost":
        return np.full(n_c, p.penalty_per_gpu)
    count = np.bincount(dclass, minlength=n_c)
    gpus = np.bincount(dclass, weights=gmin, minlength=n_c)
    out: FloatArray = p.penalty_per_demand * count / np.maximum(gpus, 1)
    return out


def _choose_alternatives(
    p: Problem,
    dclass: IntArray,
    gmin: IntArray,
    n_c: int,
    cq_c: IntArray,
    cq_alt: IntArray,
    f_cq: IntArray,
    alt_start: IntArray,
) -> IntArray:
    """Each demand's alternative, in the proportions the LP flow chose for its class."""
    n_alts = np.diff(alt_start)
    chosen = alt_start[:-1].copy()
    multi = np.flatnonzero(n_alts > 1)
    if len(multi) == 0:
        return chosen
    a_max = int(n_alts.max())
    flow_alt = np.bincount(cq_c * a_max + cq_alt, weights=f_cq, minlength=n_c * a_max)
    flow_alt = flow_alt.reshape(n_c, a_max)
    edges = np.cumsum(flow_alt, axis=1)
    # position of each demand within its class, in GPUs of its smallest alternative
    order = multi[np.argsort(dclass[multi], kind="stable")]
    cls = dclass[order]
    run_end = np.cumsum(gmin[order])
    class_first = np.searchsorted(cls, cls)  # index of the class's first member in order
    start = run_end - gmin[order] - (run_end[class_first] - gmin[order][class_first])
    local = np.sum(edges[cls] <= start[:, None], axis=1)
    fallback = np.argmax(flow_alt[cls], axis=1)
    local = np.where(local >= n_alts[order], fallback, local)
    chosen[order] = alt_start[order] + local
    return chosen


def _decode(units: IntArray, flows: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Match units of groups (in order) to flows on offers (in order): rows of
    (group position, offer position, amount)."""
    u_end, f_end = np.cumsum(units), np.cumsum(flows)
    limit = min(int(u_end[-1]), int(f_end[-1])) if len(f_end) else 0
    points = np.union1d(u_end, f_end)
    points = points[(points > 0) & (points <= limit)]
    starts = np.concatenate([np.zeros(1, np.int64), points[:-1]])[: len(points)]
    keep = points > starts
    starts, ends = starts[keep], points[keep]
    gi = np.searchsorted(u_end, starts, side="right")
    oi = np.searchsorted(f_end, starts, side="right")
    return gi, oi, ends - starts


Rows = tuple[IntArray, IntArray, IntArray, IntArray]


def _objective(p: Problem, rows: Rows) -> float:
    group, offer, units, chosen = rows
    fp = p.footprint(p.group_k[group], p.offer_node[offer])
    cost = float(np.sum(units * fp * p.offer_cost[offer]))
    return cost + float(np.sum(p.unplaced_penalty()[chosen < 0]))


def _round_layers(
    p: Problem,
    gq: IntArray,
    net: _Network,
    quota_gpus: IntArray,
    f_qn_lp: IntArray,
    chosen: IntArray,
    lp_slack: IntArray,
    reserve_price: float,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    n_o, n_q, n_n = p.n_offers, len(net.q_k), len(net.n_k)
    g_demand = p.alt_demand[p.group_alt]
    active = p.group_alt == chosen[g_demand]
    free = p.offer_cap.copy()
    placed_units = np.zeros(len(gq), dtype=np.int64)
    rows_g: list[IntArray] = []
    rows_o: list[IntArray] = []
    rows_u: list[IntArray] = []
    # GPUs the LP plans per offer for each layer; a layer may use what later (smaller) layers
    # plan only at a high price, so large units do not take the capacity small ones need
    layers = np.unique(net.q_k)[::-1]
    inflow_all = np.bincount(net.qn_n, weights=f_qn_lp, minlength=n_n)
    planned = np.zeros((len(layers), n_o))
    for i, k in enumerate(layers):
        in_layer = net.q_k[net.qn_q] == k
        share_k = np.bincount(
            net.qn_n[in_layer], weights=f_qn_lp[in_layer], minlength=n_n
        ) / np.maximum(inflow_all, 1e-12)
        planned[i] = np.bincount(net.no_o, weights=quota_gpus * share_k[net.no_n], minlength=n_o)
    reserved_after = np.cumsum(planned[::-1], axis=0)[::-1]  # row i: layers i.. onwards
    for i, k in enumerate(layers):
        k = int(k)
        reserve = reserved_after[i + 1] if i + 1 < len(layers) else np.zeros(n_o)
        layer_groups = np.flatnonzero(active & (net.q_k[gq] == k))
        if len(layer_groups) == 0:
            continue
        units_q = np.bincount(
            gq[layer_groups], weights=p.group_units[layer_groups], minlength=n_q
        ).astype(np.int64)
        qn = np.flatnonzero(units_q[net.qn_q] > 0)
        live_n = np.zeros(n_n, dtype=bool)
        live_n[net.qn_n[qn]] = True
        no = np.flatnonzero(live_n[net.no_n])
        a_o = net.no_o[no]
        a_fp = p.footprint(k, p.offer_node[a_o])
        unit_cost = np.rint(p.offer_cost[a_o] * a_fp * SCALE).astype(np.int64)
        # this layer's share of the LP flow through each n node
        inflow_layer = np.bincount(net.qn_n[qn], weights=f_qn_lp[qn], minlength=n_n)
        share = inflow_layer / np.maximum(inflow_all, 1e-12)
        quota = np.floor(quota_gpus[no] * share[net.no_n[no]] / k + 1e-9).astype(np.int64)
        # keep the arcs the LP used and those into offers the LP left room in; a unit with
        # nowhere to go here falls to the residual pass
        keep = (quota_gpus[no] > 0) | (lp_slack[a_o] >= a_fp) | (lp_slack[a_o] < p.offer_cap[a_o])
        no, a_o, a_fp, unit_cost, quota = (
            no[keep],
            a_o[keep],
            a_fp[keep],
            unit_cost[keep],
            quota[keep],
        )
        fp_o = p.footprint(k, p.offer_node)
        cap_o = free // fp_o
        open_o = np.minimum(cap_o, np.maximum(free - np.ceil(reserve), 0) // fp_o)
        layer_q = np.flatnonzero(units_q > 0)
        total = int(units_q.sum())
        # nodes: unit keys | n nodes | offers | sink
        node_n, node_o = n_q, n_q + n_n
        sink = node_o + n_o
        big = int(p.penalty_per_gpu * k * SCALE) + 1
        steal = int(reserve_price * k * float(p.offer_cost.max()) * SCALE)
        n_qn, n_no = len(qn), len(no)
        qa = np.flatnonzero(quota > 0)  # quota arcs only where the LP planned flow
        n_qa = len(qa)
        tails = np.concatenate(
            [
                net.qn_q[qn],
                node_n + net.no_n[no[qa]],
                node_n + net.no_n[no],
                node_o + np.arange(n_o),
                node_o + np.arange(n_o),
                layer_q,
            ]
        )
        heads = np.concatenate(
            [
                node_n + net.qn_n[qn],
                node_o + a_o[qa],
                node_o + a_o,
                np.full(2 * n_o, sink),
                np.full(len(layer_q), sink),
            ]
        )
        caps = np.concatenate(
            [
                np.full(n_qn, total),
                quota[qa],
                np.full(n_no, total),
                open_o,
                cap_o - open_o,
                units_q[layer_q],
            ]
        )
        costs = np.concatenate(
            [
                np.zeros(n_qn, np.int64),
                unit_cost[qa],
                unit_cost + np.rint(unit_cost * OVERFLOW_EXTRA).astype(np.int64) + 1,
                np.zeros(n_o, np.int64),
                np.full(n_o, steal, np.int64),
                np.full(len(layer_q), big, np.int64),
            ]
        )
        supply = np.zeros(sink + 1, dtype=np.int64)
        supply[layer_q] = units_q[layer_q]
        supply[sink] = -total
        flows = _min_cost_flow(sink + 1, tails, heads, caps, costs, supply)
        f_qn = flows[:n_qn]
        f_no = flows[n_qn + n_qa : n_qn + n_qa + n_no].copy()
        f_no[qa] += flows[n_qn : n_qn + n_qa]
        f_unmet = flows[-len(layer_q) :]
        np.subtract.at(free, a_o, f_no * a_fp)
        # decode 1: within each n node, incoming (q) flow against outgoing (offer) flow
        qn_order = np.lexsort((net.qn_q[qn], net.qn_n[qn]))
        in_q, in_f = net.qn_q[qn][qn_order], f_qn[qn_order]
        qi, oi, amt = _decode(in_f, f_no)  # n->o arcs are sorted by n already
        q_rows, o_rows = in_q[qi], a_o[oi]
        # decode 2: within each q, its groups (index order) against (offer, amount) rows
        unmet_q = np.zeros(n_q, dtype=np.int64)
        unmet_q[layer_q] = f_unmet
        q_all = np.concatenate([q_rows, layer_q])
        o_all = np.concatenate([o_rows, np.full(len(layer_q), -1)])
        a_all = np.concatenate([amt, unmet_q[layer_q]])
        order = np.argsort(q_all, kind="stable")
        q_all, o_all, a_all = q_all[order], o_all[order], a_all[order]
        g_sorted = layer_groups[np.argsort(gq[layer_groups], kind="stable")]
        gi, ri, amt2 = _decode(p.group_units[g_sorted], a_all)
        hit = o_all[ri] >= 0
        rows_g.append(g_sorted[gi[hit]])
        rows_o.append(o_all[ri[hit]])
        rows_u.append(amt2[hit])
        np.add.at(placed_units, g_sorted[gi[hit]], amt2[hit])
    group = np.concatenate(rows_g) if rows_g else np.zeros(0, np.int64)
    offer = np.concatenate(rows_o) if rows_o else np.zeros(0, np.int64)
    units = np.concatenate(rows_u) if rows_u else np.zeros(0, np.int64)
    # a demand is placed whole or not at all; release partial ones for the residual pass
    short = active & (placed_units < p.group_units)
    incomplete = np.zeros(p.n_demands, dtype=bool)
    incomplete[g_demand[short]] = True
    drop = incomplete[g_demand[group]]
    if np.any(drop):
        fp = p.footprint(p.group_k[group[drop]], p.offer_node[offer[drop]])
        np.add.at(free, offer[drop], units[drop] * fp)
        group, offer, units = group[~drop], offer[~drop], units[~drop]
    final_alt = np.where(incomplete, -1, chosen)
    left = np.flatnonzero(incomplete)
    if len(left):
        size = p.demand_min_gpus()[left]
        order = left[np.argsort(-size, kind="stable")]
        extra = greedy(p, price_rank, lambda d, a: a, "fast", order=order, free=free)
        group = np.concatenate([group, extra.group])
        offer = np.concatenate([offer, extra.offer])
        units = np.concatenate([units, extra.units])
        final_alt[left] = extra.chosen_alt[left]
    return group, offer, units, final_alt
