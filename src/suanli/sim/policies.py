"""Placement policies compared by the simulator, each deciding once per period.

* ``nearest``: what buyers do today. Serving goes to the nearest sites (those within the
  buyers' comfort RTT, or the single nearest); batch and training jobs to the nearest site
  with room; prices are the sellers' posted asks.
* ``cheapest-type``: each workload picks the one GPU type with the lowest cost per request
  at reference prices (among types with enough capacity for its peak) and rents it at the
  nearest sites that hold it within the latency budget; posted asks.
* ``suanli``: joint placement of all serving demand over every (site, GPU type) that meets
  each city's latency budget, at least cost (below); batch and training on the cheapest
  capacity anywhere, batch on interruptible leases; the market clears a uniform price per
  instrument (GPU type, region).

Suanli's serving problem for one period, with ``x[c,w,s,g]`` replicas of workload ``w``
for city ``c`` at site ``s`` on GPU type ``g``, ``u[c,w]`` unserved requests/s:

    minimise   Σ ask[s,g] k[w,g] x[c,w,s,g] + M Σ u[c,w]
    subject to Σ_{s,g} rps[w,g] x[c,w,s,g] + u[c,w] >= need[c,w]          (demand)
               Σ_{c,w} k[w,g] x[c,w,s,g] <= free[s,g]                       (capacity)
               x[c,w,s,g] = 0 unless rtt[c,s] <= budget[w,g]                (latency SLO)
                              and ask[s,g] <= max_price[w]
               x, u >= 0

solved as an LP (HiGHS) and rounded to whole replicas within capacity.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from suanli.sim.world import BoolArray, FloatArray, IntArray, World

POLICIES = ("nearest", "cheapest-type", "suanli")
POLICY_LABELS = {
    "nearest": "Nearest site (today)",
    "cheapest-type": "Cheapest single GPU type",
    "suanli": "Suanli (joint placement + market)",
}
UNSERVED_PENALTY_CNY_PER_RPS = 1e4
RATION_ROUNDS = (0.25, 0.5, 0.75, 1.0)


def nearby_sites(world: World, city: int) -> IntArray:
    """Sites a buyer in ``city`` trusts today: within the comfort RTT, nearest first."""
    rtt = world.rtt_ms[city]
    order = np.argsort(rtt, kind="stable")
    keep = rtt[order] <= max(world.scenario.comfort_rtt_ms, float(rtt[order[0]]))
    result: IntArray = order[keep]
    return result


def cheapest_type(world: World, cost_per_unit: FloatArray, usable: BoolArray) -> int:
    """Index of the usable GPU type with the lowest cost per unit of work (-1: none)."""
    held = world.inventory.sum(axis=0) > 0
    cost = np.where(usable & held & np.isfinite(cost_per_unit), cost_per_unit, np.inf)
    return int(np.argmin(cost)) if np.isfinite(cost).any() else -1


def _take(
    replicas: IntArray, free: IntArray, c: int, w: int, s: int, g: int, need: float, world: World
) -> float:
    """Rent up to the replicas still needed at (s, g); returns the need left (requests/s)."""
    k, mu = int(world.gpus_per_replica[w, g]), float(world.rps[w, g])
    if k == 0 or need <= 0:
        return need
    r = min(int(np.ceil(need / mu - 1e-9)), int(free[s, g]) // k)
    if r > 0:
        replicas[c, w, s, g] += r
        free[s, g] -= r * k
        need -= r * mu
    return need


def _nearest_cells(world: World, c: int, w: int, ask: FloatArray) -> list[tuple[int, int]]:
    cells: list[tuple[int, int]] = []
    for s in nearby_sites(world, c):
        cost = np.where(
            (world.gpus_per_replica[w] > 0) & (world.inventory[s] > 0),
            ask[s] * world.gpus_per_replica[w] / np.maximum(world.rps[w], 1e-12),
            np.inf,
        )
        cells.extend(
            (int(s), int(g)) for g in np.argsort(cost, kind="stable") if np.isfinite(cost[g])
        )
    return cells


def serve_nearest(
    world: World, need: FloatArray, free: IntArray, ask: FloatArray, cache: dict[object, object]
) -> IntArray:
    """Nearest-site serving: trusted sites nearest first, at each the cheapest type per request.

    Buyers compete for the same nearby sites; when those run short, every buyer gets about
    the same share of its need (they top up in rounds of a quarter of their need).
    """
    n_c, n_w, n_s, n_g = world.shape
    replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
    free = free.copy()
    served = np.zeros((n_c, n_w))
    order = np.argsort(-need, axis=None, kind="stable")
    for share in RATION_ROUNDS:
        for flat in order:
            c, w = divmod(int(flat), n_w)
            key = ("nearest", c, w)
            if key not in cache:
                cache[key] = _nearest_cells(world, c, w, ask)
            target = float(need[c, w]) * share
            left = target - served[c, w]
            for s, g in cache[key]:  # type: ignore[attr-defined]
                if left <= 0:
                    break
                left = _take(replicas, free, c, w, s, g, left, world)
            served[c, w] = target - left
    return replicas


def serving_types(world: World, peak_need: FloatArray) -> IntArray:
    """The one GPU type each workload uses under ``cheapest-type``: the cheapest per request
    at reference prices among the types whose market capacity (inventory less existing
    tenants, all sites) covers the workload's peak need; if none does, the cheapest (-1:
    no type can serve the workload)."""
    n_w = len(world.profiles)
    capacity_gpus = (world.inventory - world.base).sum(axis=0)
    chosen = np.full(n_w, -1, dtype=np.int64)
    for w in range(n_w):
        usable = world.gpus_per_replica[w] > 0
        cost = world.reference_price * world.gpus_per_replica[w] / np.maximum(world.rps[w], 1e-12)
        gpus_needed = peak_need[w] / np.maximum(world.rps[w], 1e-12) * world.gpus_per_replica[w]
        enough = usable & (capacity_gpus >= gpus_needed)
        g = cheapest_type(world, cost, enough)
        chosen[w] = g if g >= 0 else cheapest_type(world, cost, usable)
    return chosen


def serve_cheapest_type(
    world: World, need: FloatArray, free: IntArray, types: IntArray
) -> IntArray:
    """One GPU type per workload (``types``), nearest sites first among those within the
    latency budget."""
    n_c, n_w, n_s, n_g = world.shape
    replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
    free = free.copy()
    for flat in np.argsort(-need, axis=None, kind="stable"):
        c, w = divmod(int(flat), n_w)
        g = int(types[w])
        if g < 0:
            continue
        left = float(need[c, w])
        for s in np.argsort(world.rtt_ms[c], kind="stable"):
            if world.rtt_ms[c, s] <= world.rtt_budget_ms[w, g] and left > 0:
                left = _take(replicas, free, c, w, int(s), g, left, world)
    return replicas


def serve_suanli(world: World, need: FloatArray, free: IntArray, ask: FloatArray) -> IntArray:
    """Joint least-cost serving placement under latency budgets and capacity (LP + rounding)."""
    n_c, n_w, n_s, n_g = world.shape
    k = world.gpus_per_replica
    mu = world.rps
    max_price = np.array([w.max_price_cny_per_gpu_hour for w in world.scenario.workloads])
    ok = (
        (k[None, :, None, :] > 0)
        & (world.rtt_ms[:, None, :, None] <= world.rtt_budget_ms[None, :, None, :])
        & (free[None, None, :, :] >= k[None, :, None, :])
        & (ask[None, None, :, :] <= max_price[None, :, None, None])
        & (need[:, :, None, None] > 0)
        & (world.inventory[None, None, :, :] > 0)
    )
    replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
    # Aggregate buyers with the same workload and the same feasible cells into one class:
    # the LP's size then does not grow with the number of cities.
    rows_ok = ok.reshape(n_c * n_w, n_s * n_g)
    row_w = np.tile(np.arange(n_w), n_c)
    active = np.nonzero(rows_ok.any(axis=1))[0]
    if active.size == 0:
        return replicas
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
    x_class = result.x[:n_x] if result.status == 0 else np.zeros(n_x)
    # Share each class's replicas among its members in proportion to their need.
    used = np.nonzero(x_class > 1e-9)[0]
    share = need.ravel()[active] / np.maximum(class_need[member_class], 1e-12)
    parts_r, parts_v = [], []
    for v in used:
        members = np.nonzero(member_class == qs[v])[0]
        parts_r.append(active[members])
        parts_v.append(np.full(members.size, v))
    if not parts_r:
        return replicas
    member_row = np.concatenate(parts_r)
    var = np.concatenate(parts_v)
    x = x_class[var] * share[np.searchsorted(active, member_row)]
    cs, ws = member_row // n_w, member_row % n_w
    ss, gs = ss[var], gs[var]
    whole = np.floor(x + 1e-9).astype(np.int64)
    np.add.at(replicas, (cs, ws, ss, gs), whole)
    left_free = free - np.einsum("cwsg,wg->sg", replicas, k)
    left_need = need - np.einsum("cwsg,wg->cw", replicas, mu)
    # Round up the fractional replicas, largest fraction first, while capacity lasts.
    fraction = x - whole
    candidates = np.nonzero(fraction > 1e-6)[0]
    for v in candidates[np.argsort(-fraction[candidates], kind="stable")]:
        c, w, s, g = int(cs[v]), int(ws[v]), int(ss[v]), int(gs[v])
        if left_need[c, w] > 1e-9 and left_free[s, g] >= k[w, g]:
            replicas[c, w, s, g] += 1
            left_free[s, g] -= k[w, g]
            left_need[c, w] -= mu[w, g]
    return replicas


def serve(
    policy: str,
    world: World,
    need: FloatArray,
    free: IntArray,
    ask: FloatArray,
    cache: dict[object, object] | None = None,
    *,
    peak_need: FloatArray | None = None,
) -> IntArray:
    """Replicas ``[c, w, s, g]`` the policy rents this period for serving demand ``need``.

    ``cache`` may hold look-ups that depend only on the asks; clear it when asks move.
    ``peak_need`` (requests/s per workload over the run) lets ``cheapest-type`` pick a type
    with enough capacity; without it the hour's need stands in.
    """
    if policy == "nearest":
        return serve_nearest(world, need, free, ask, {} if cache is None else cache)
    if policy == "cheapest-type":
        peak = need.sum(axis=0) if peak_need is None else peak_need
        return serve_cheapest_type(world, need, free, serving_types(world, peak))
    return serve_suanli(world, need, free, ask)


def job_targets(
    policy: str, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
) -> IntArray:
    """(site, GPU type) cells, flattened as ``s * G + g``, in the order the policy tries them
    for a batch or training job from ``city``."""
    n_g = len(world.gpu_types)
    held = (world.inventory > 0) & usable[None, :] & (ask <= max_price)
    unit_cost = ask / world.speed[None, :]
    if policy == "nearest":
        sites = np.argsort(world.rtt_ms[city], kind="stable")
        cells = [
            int(s) * n_g + int(g) for s in sites for g in np.argsort(unit_cost[s]) if held[s, g]
        ]
        return np.array(cells, dtype=np.int64)
    if policy == "cheapest-type":
        g = cheapest_type(world, world.reference_price / world.speed, usable)
        if g < 0:
            return np.zeros(0, dtype=np.int64)
        sites = np.argsort(world.rtt_ms[city], kind="stable")
        return np.array([int(s) * n_g + g for s in sites if held[s, g]], dtype=np.int64)
    flat = np.where(held.ravel(), unit_cost.ravel(), np.inf)
    order = np.argsort(flat, kind="stable")
    result: IntArray = order[np.isfinite(flat[order])]
    return result


def place_gangs(
    world: World,
    gpus: IntArray,
    max_price: FloatArray,
    idle: IntArray,
    ask: FloatArray,
) -> list[int]:
    """Suanli's training placement: all waiting gangs at once through the placement engine
    (:func:`suanli.placement.place`), each in one (site, GPU type) with a fast fabric.

    Returns, per gang, the chosen cell ``s * G + g`` or -1 when it must wait.
    """
    from suanli.placement import GangDemand, Offer, RttTable, place

    n_g = len(world.gpu_types)
    cells = [
        (s, g)
        for s in range(len(world.site_ids))
        for g in range(n_g)
        if world.train_ok[g] and idle[s, g] > 0
    ]
    if not cells:
        return [-1] * len(gpus)
    offers = [
        Offer(
            id=f"{s}:{g}",
            site=world.site_ids[s],
            gpu=world.gpu_types[g],
            count=int(idle[s, g]),
            gpus_per_node=8,
            price_cny_per_gpu_hour=float(ask[s, g]),
            fabric="nvlink-ib",
        )
        for s, g in cells
    ]
    types = tuple(g for j, g in enumerate(world.gpu_types) if world.train_ok[j])
    demands = [
        GangDemand(
            id=str(i),
            gpus=int(n),
            gpu_types=types,
            min_interconnect_gb_s=400.0,
            max_price_cny_per_gpu_hour=float(p),
        )
        for i, (n, p) in enumerate(zip(gpus, max_price, strict=True))
    ]
    latency = RttTable(cities=world.cities, sites=world.site_ids, rtt_ms=world.rtt_ms)
    placement = place(demands, offers, latency, objective="cost")
    chosen = [-1] * len(gpus)
    for key, assignments in placement.assignments.items():
        if assignments:
            s, g = (int(x) for x in assignments[0].offer_id.split(":"))
            chosen[int(key)] = s * n_g + g
    return chosen
