"""Placement policies compared by the simulator: a small protocol and a registry.

The engine (:mod:`suanli.sim.engine`) owns the hour loop, the leases and the conservation
checks; a policy only decides, each hour, where serving replicas go
(:meth:`Policy.serve`), in which order batch and training jobs try cells
(:meth:`Policy.job_cells`), optionally where waiting training gangs go all at once
(:meth:`Policy.place_gangs`), and how the period's leases are priced (``market``: the
sellers' posted asks, or a uniform-price auction per instrument). Adding a policy is one
class in this module with ``@register``.

* ``nearest``: what buyers do today. Serving goes to the sites they trust (within the
  comfort RTT, or the single nearest), at each the cheapest type per request, whatever
  the latency budget; jobs to the nearest site with room; posted asks.
* ``nearest-spill``: today done well. Nearest site first among the GPU types whose
  latency budget the site meets, spilling to the next-nearest site when full.
* ``cheapest-type``: each workload picks the one GPU type with the lowest cost per request
  at reference prices (among types with enough capacity for its peak) and rents it at the
  nearest sites within the latency budget.
* ``greedy``: each block of requests, in arrival order, takes the cheapest feasible
  capacity left (a per-job optimiser such as SkyPilot's, one job at a time).
* ``suanli``: serving placed jointly for all buyers each hour by the placement package's
  array entry point (:func:`suanli.placement.serving.place_serving`, class-aggregated LP
  and rounding; at 50-60 ms an hour :func:`suanli.placement.place` would take most of a
  month's time budget, and a test checks on generated hours that the array entry point
  costs no more than 0.5% above it, :func:`place_serving_with_engine`); batch and
  training on the cheapest capacity anywhere, training gangs placed together; the market
  clears a uniform price per instrument (GPU type, region).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from suanli.errors import SuanliError
from suanli.sim.world import BoolArray, FloatArray, IntArray, World

Market = Literal["posted", "auction"]
RATION_ROUNDS = (0.25, 0.5, 0.75, 1.0)
# Serving demand is split into blocks of about this many replicas of the workload's best
# type, so one (city, workload) can use several GPU types and sites.
BLOCK_REPLICAS = 32


@dataclass(slots=True)
class Hour:
    """What a policy sees when it places one hour's serving."""

    world: World
    hour: int
    need: FloatArray  # [city, workload] requests/s to serve
    free: IntArray  # [site, GPU type] GPUs it may rent
    ask: FloatArray  # [site, GPU type] CNY per GPU-hour
    peak_need: FloatArray  # [workload] peak requests/s over the run
    cache: dict[object, object] = field(default_factory=dict)  # cleared when asks move


class Policy(Protocol):
    """A placement policy: decisions only (the engine checks and applies them)."""

    name: str
    label: str
    market: Market

    def serve(self, hour: Hour) -> IntArray:
        """Replicas ``[city, workload, site, GPU type]`` rented this hour (within ``free``)."""
        ...

    def job_cells(
        self, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
    ) -> IntArray:
        """Cells ``s * G + g`` a batch or training job from ``city`` tries, in order."""
        ...

    def place_gangs(
        self, world: World, gpus: IntArray, max_price: FloatArray, idle: IntArray, ask: FloatArray
    ) -> list[int] | None:
        """Cells for all waiting training gangs at once (-1: wait), or None to let each gang
        try :meth:`job_cells` in arrival order."""
        ...


REGISTRY: dict[str, Policy] = {}


def register(cls: type) -> type:
    """Class decorator: add one instance of the policy to :data:`REGISTRY`."""
    policy = cls()
    REGISTRY[policy.name] = policy
    return cls


def get_policy(name: str) -> Policy:
    from suanli.errors import InvalidRequest

    if name not in REGISTRY:
        raise InvalidRequest(
            f"unknown policy {name}",
            field="policy",
            hint="Use one or more of: " + ", ".join(REGISTRY),
        )
    return REGISTRY[name]


# --- helpers ------------------------------------------------------------------------------


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


def max_prices(world: World) -> FloatArray:
    return np.array([w.max_price_cny_per_gpu_hour for w in world.scenario.workloads])


def feasible(world: World, ask: FloatArray) -> BoolArray:
    """``[city, workload, site, GPU type]``: the type serves the workload within its targets
    from that site (RTT within budget), the site holds it, and its ask is within the limit."""
    k = world.gpus_per_replica
    result: BoolArray = (
        (k[None, :, None, :] > 0)
        & (world.rtt_ms[:, None, :, None] <= world.rtt_budget_ms[None, :, None, :])
        & (world.inventory[None, None, :, :] > 0)
        & (ask[None, None, :, :] <= max_prices(world)[None, :, None, None])
    )
    return result


def take(
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


def unit_cost(world: World, ask: FloatArray, w: int) -> FloatArray:
    """CNY per hour per request/s of workload ``w`` at each (site, GPU type) (inf: cannot)."""
    k = world.gpus_per_replica[w]
    cost = ask * k[None, :] / np.maximum(world.rps[w], 1e-12)[None, :]
    result: FloatArray = np.where((k[None, :] > 0) & (world.inventory > 0), cost, np.inf)
    return result


def rationed(hour: Hour, cells_of: Callable[[int, int], list[tuple[int, int]]]) -> IntArray:
    """Every buyer tops up its need in rounds of a quarter over its own list of cells, so
    when cells run short each gets about the same share of its need."""
    world, need = hour.world, hour.need
    n_c, n_w, n_s, n_g = world.shape
    replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
    free = hour.free.copy()
    served = np.zeros((n_c, n_w))
    order = np.argsort(-need, axis=None, kind="stable")
    for share in RATION_ROUNDS:
        for flat in order:
            c, w = divmod(int(flat), n_w)
            target = float(need[c, w]) * share
            left = target - served[c, w]
            for s, g in cells_of(c, w):
                if left <= 0:
                    break
                left = take(replicas, free, c, w, s, g, left, world)
            served[c, w] = target - left
    return replicas


class _Base:
    """Defaults: jobs go to the nearest site with room (cheapest type there); posted asks.

    A ``label`` names the policy in charts and legends: keep it under 20 characters.
    """

    name = ""
    label = ""
    market: Market = "posted"

    def serve(self, hour: Hour) -> IntArray:  # pragma: no cover - every policy overrides
        raise NotImplementedError

    def job_cells(
        self, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
    ) -> IntArray:
        n_g = len(world.gpu_types)
        held = (world.inventory > 0) & usable[None, :] & (ask <= max_price)
        cost = ask / world.speed[None, :]
        sites = np.argsort(world.rtt_ms[city], kind="stable")
        cells = [int(s) * n_g + int(g) for s in sites for g in np.argsort(cost[s]) if held[s, g]]
        return np.array(cells, dtype=np.int64)

    def place_gangs(
        self, world: World, gpus: IntArray, max_price: FloatArray, idle: IntArray, ask: FloatArray
    ) -> list[int] | None:
        return None


# --- the policies -------------------------------------------------------------------------


@register
class Nearest(_Base):
    name = "nearest"
    label = "Nearest (today)"

    def serve(self, hour: Hour) -> IntArray:
        world, ask = hour.world, hour.ask

        def cells(c: int, w: int) -> list[tuple[int, int]]:
            key = ("nearest", c, w)
            if key not in hour.cache:
                cost = unit_cost(world, ask, w)
                hour.cache[key] = [
                    (int(s), int(g))
                    for s in nearby_sites(world, c)
                    for g in np.argsort(cost[s], kind="stable")
                    if np.isfinite(cost[s, g])
                ]
            result: list[tuple[int, int]] = hour.cache[key]  # type: ignore[assignment]
            return result

        return rationed(hour, cells)


@register
class NearestSpill(_Base):
    name = "nearest-spill"
    label = "Nearest, spill-over"

    def serve(self, hour: Hour) -> IntArray:
        world, ask = hour.world, hour.ask

        def cells(c: int, w: int) -> list[tuple[int, int]]:
            key = ("spill", c, w)
            if key not in hour.cache:
                ok = feasible(world, ask)[c, w]
                cost = unit_cost(world, ask, w)
                hour.cache[key] = [
                    (int(s), int(g))
                    for s in np.argsort(world.rtt_ms[c], kind="stable")
                    for g in np.argsort(cost[s], kind="stable")
                    if ok[s, g]
                ]
            result: list[tuple[int, int]] = hour.cache[key]  # type: ignore[assignment]
            return result

        return rationed(hour, cells)


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


@register
class CheapestType(_Base):
    name = "cheapest-type"
    label = "Cheapest GPU type"

    def serve(self, hour: Hour) -> IntArray:
        world, need = hour.world, hour.need
        n_c, n_w, n_s, n_g = world.shape
        key = ("types",)
        if key not in hour.cache:
            hour.cache[key] = serving_types(world, hour.peak_need)
        types: IntArray = hour.cache[key]  # type: ignore[assignment]
        replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
        free = hour.free.copy()
        for flat in np.argsort(-need, axis=None, kind="stable"):
            c, w = divmod(int(flat), n_w)
            g = int(types[w])
            if g < 0:
                continue
            left = float(need[c, w])
            for s in np.argsort(world.rtt_ms[c], kind="stable"):
                if world.rtt_ms[c, s] <= world.rtt_budget_ms[w, g] and left > 0:
                    left = take(replicas, free, c, w, int(s), g, left, world)
        return replicas

    def job_cells(
        self, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
    ) -> IntArray:
        n_g = len(world.gpu_types)
        held = (world.inventory > 0) & usable[None, :] & (ask <= max_price)
        g = cheapest_type(world, world.reference_price / world.speed, usable)
        if g < 0:
            return np.zeros(0, dtype=np.int64)
        sites = np.argsort(world.rtt_ms[city], kind="stable")
        return np.array([int(s) * n_g + g for s in sites if held[s, g]], dtype=np.int64)


def blocks(world: World, need: FloatArray) -> list[tuple[int, int, float]]:
    """Serving demand as blocks ``(city, workload, requests/s)`` of about
    :data:`BLOCK_REPLICAS` replicas of the workload's fastest type."""
    out: list[tuple[int, int, float]] = []
    n_c, n_w = need.shape
    for c in range(n_c):
        for w in range(n_w):
            if need[c, w] <= 0:
                continue
            size = BLOCK_REPLICAS * float(world.rps[w].max())
            n = max(1, math.ceil(need[c, w] / size - 1e-9)) if size > 0 else 1
            out.extend((c, w, float(need[c, w]) / n) for _ in range(n))
    return out


def _cheapest_first(world: World, ask: FloatArray) -> tuple[BoolArray, list[IntArray]]:
    ok = feasible(world, ask)
    orders = [
        np.argsort(unit_cost(world, ask, w).ravel(), kind="stable") for w in range(ok.shape[1])
    ]
    return ok, orders


@register
class Greedy(_Base):
    name = "greedy"
    label = "Greedy per job"

    def serve(self, hour: Hour) -> IntArray:
        world = hour.world
        n_c, n_w, n_s, n_g = world.shape
        key = ("greedy",)
        if key not in hour.cache:
            hour.cache[key] = _cheapest_first(world, hour.ask)
        cached: tuple[BoolArray, list[IntArray]] = hour.cache[key]  # type: ignore[assignment]
        ok, orders = cached
        replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
        free = hour.free.copy()
        todo = blocks(world, hour.need)
        arrival = np.random.default_rng(hour.hour).permutation(len(todo))
        for i in arrival:
            c, w, left = todo[i]
            for flat in orders[w]:
                if left <= 0:
                    break
                s, g = divmod(int(flat), n_g)
                if ok[c, w, s, g]:
                    left = take(replicas, free, c, w, s, g, left, world)
        return replicas

    def job_cells(
        self, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
    ) -> IntArray:
        return cheapest_cells(world, usable, ask, max_price)


def cheapest_cells(world: World, usable: BoolArray, ask: FloatArray, max_price: float) -> IntArray:
    """All cells a job may use, cheapest per unit of work first."""
    held = (world.inventory > 0) & usable[None, :] & (ask <= max_price)
    flat = np.where(held.ravel(), (ask / world.speed[None, :]).ravel(), np.inf)
    order = np.argsort(flat, kind="stable")
    result: IntArray = order[np.isfinite(flat[order])]
    return result


@register
class Suanli(_Base):
    name = "suanli"
    label = "Suanli"
    market: Market = "auction"

    def serve(self, hour: Hour) -> IntArray:
        from suanli.placement.serving import place_serving

        world = hour.world
        plan = place_serving(
            hour.need,
            hour.free,
            hour.ask,
            world.gpus_per_replica,
            world.rps,
            feasible(world, hour.ask),
        )
        return plan.replicas

    def job_cells(
        self, world: World, city: int, usable: BoolArray, ask: FloatArray, max_price: float
    ) -> IntArray:
        return cheapest_cells(world, usable, ask, max_price)

    def place_gangs(
        self, world: World, gpus: IntArray, max_price: FloatArray, idle: IntArray, ask: FloatArray
    ) -> list[int] | None:
        return place_gangs(world, gpus, max_price, idle, ask)


def _latency(world: World) -> object:
    from suanli.placement import RttTable

    return RttTable(cities=world.cities, sites=world.site_ids, rtt_ms=world.rtt_ms)


def place_serving_with_engine(
    world: World, need: FloatArray, free: IntArray, ask: FloatArray
) -> IntArray:
    """One hour's serving placed by :func:`suanli.placement.place` (cost objective, the
    fast class-aggregated solver): one :class:`~suanli.placement.ServeDemand` per block of
    demand (:func:`blocks`) with an option per GPU type that meets the workload's targets
    (sizing's replicas and RTT budget), one :class:`~suanli.placement.Offer` per (site, GPU
    type) with free GPUs at its ask. Demand that capacity cannot hold stays unplaced (its
    requests time out); a solver error propagates."""
    from suanli.placement import Offer, ServeDemand, ServeOption, place

    n_c, n_w, n_s, n_g = world.shape
    replicas = np.zeros((n_c, n_w, n_s, n_g), dtype=np.int64)
    limits = max_prices(world)
    demands = []
    for i, (c, w, rate) in enumerate(blocks(world, need)):
        city = world.cities[c]
        options = tuple(
            ServeOption(
                gpu=world.gpu_types[g],
                gpus_per_replica=int(world.gpus_per_replica[w, g]),
                replicas=max(1, math.ceil(rate / world.rps[w, g] - 1e-9)),
                regions=((city, 1.0),),
                rtt_budget_ms={city: float(world.rtt_budget_ms[w, g])},
                max_price_cny_per_gpu_hour=float(limits[w]),
            )
            for g in range(n_g)
            if world.gpus_per_replica[w, g] > 0 and world.rtt_budget_ms[w, g] >= 0
        )
        if options:
            demands.append(ServeDemand(id=f"{i}:{c}:{w}", options=options))
    offers = [
        Offer(
            id=f"{s}:{g}",
            site=world.site_ids[s],
            gpu=world.gpu_types[g],
            count=int(free[s, g]),
            gpus_per_node=8,
            price_cny_per_gpu_hour=float(ask[s, g]),
        )
        for s in range(n_s)
        for g in range(n_g)
        if free[s, g] > 0 and world.inventory[s, g] > 0
    ]
    if not demands or not offers:
        return replicas
    placement = place(demands, offers, _latency(world), objective="cost", method="fast")  # type: ignore[arg-type]
    if placement.status not in ("optimal", "heuristic", "time_limit"):
        raise SuanliError(f"serving placement failed: status {placement.status}")
    for key, assignments in placement.assignments.items():
        _, c, w = (int(x) for x in key.split(":"))
        for a in assignments:
            s, g = (int(x) for x in a.offer_id.split(":"))
            replicas[c, w, s, g] += a.replicas
    return replicas


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
    from suanli.placement import GangDemand, Offer, place

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
    placement = place(demands, offers, _latency(world), objective="cost")  # type: ignore[arg-type]
    chosen = [-1] * len(gpus)
    for key, assignments in placement.assignments.items():
        if assignments:
            s, g = (int(x) for x in assignments[0].offer_id.split(":"))
            chosen[int(key)] = s * n_g + g
    return chosen


POLICIES = tuple(REGISTRY)
POLICY_LABELS = {name: p.label for name, p in REGISTRY.items()}
