"""An independent oracle for the placement rules: whether an offer may take a unit of a
demand, decided from the :class:`Offer` and demand objects, the catalog and the RTT table
as the model's docstrings state the rules, without :meth:`Problem.mask` or any other code
that ``build_problem`` compiles. The brute force and the rule check of the solver tests use
it, so a mistake in how the rules are compiled (latency, price, fabric, window, memory,
interruptible, GPU type) shows up as a disagreement instead of passing every test.

Only the *shape* of the problem is read from :class:`Problem` (which alternative and group
belongs to which demand and option, the served cities of a group, the unit size): those are
choices of how to split work, not rules.
"""

from __future__ import annotations

import math

from suanli.catalog import gpu as catalog_gpu
from suanli.placement import BatchDemand, GangDemand, Offer, RttTable, ServeDemand
from suanli.placement.model import Demand
from suanli.placement.problem import Problem

RDMA = ("ib", "roce", "rdma", "infiniband")
TOLERANCE = 1e-9


def _name(gpu: str) -> str:
    return catalog_gpu(gpu).name


def footprint(k: int, gpus_per_node: int) -> int:
    """GPUs a unit of k GPUs takes on nodes of ``gpus_per_node``: k when units pack a node
    evenly, else whole nodes."""
    if k <= gpus_per_node and gpus_per_node % k == 0:
        return k
    return math.ceil(k / gpus_per_node) * gpus_per_node


def window(demand: Demand) -> tuple[float, float]:
    """[start, end) hours the demand needs its GPUs."""
    if isinstance(demand, BatchDemand):
        return demand.start_h, demand.deadline_h
    return demand.start_h, demand.start_h + demand.hours


def refusal(
    demand: Demand,
    option: int,
    cities: tuple[str, ...],
    k: int,
    offer: Offer,
    rtt: RttTable,
) -> str | None:
    """Why ``offer`` may not take a unit of ``k`` GPUs of ``demand`` (its serving option
    ``option``, serving ``cities``), or None when it may."""
    card = catalog_gpu(offer.gpu)
    if isinstance(demand, ServeDemand):
        chosen = demand.options[option]
        types = {_name(chosen.gpu)}
        max_price = chosen.max_price_cny_per_gpu_hour
        min_memory = min_interconnect = 0.0
        fabrics: tuple[str, ...] = ()
    else:
        types = {_name(t) for t in demand.gpu_types}
        max_price = demand.max_price_cny_per_gpu_hour
        min_memory = demand.min_memory_gb
        min_interconnect = demand.min_interconnect_gb_s if isinstance(demand, GangDemand) else 0
        fabrics = demand.fabrics if isinstance(demand, GangDemand) else ()
    if card.name not in types:
        return "gpu_type"
    if card.memory_gb < min_memory:
        return "memory"
    start, end = window(demand)
    if offer.start_h > start or offer.end_h < end:
        return "window"
    if offer.interruptible and not demand.allow_interruptible:
        return "interruptible"
    if card.interconnect_gb_s < min_interconnect:
        return "fabric"
    if fabrics and offer.fabric not in fabrics:
        return "fabric"
    if k > offer.gpus_per_node and not any(m in offer.fabric.lower() for m in RDMA):
        return "fabric"  # a unit spanning nodes needs RDMA between them
    if offer.price_cny_per_gpu_hour > max_price + TOLERANCE:
        return "price"
    if isinstance(demand, ServeDemand):
        budgets = demand.options[option].rtt_budget_ms
        table = rtt.sub(list(cities), [offer.site])
        for i, city in enumerate(cities):
            if float(table[i, 0]) > budgets[city] + TOLERANCE:
                return "latency"
    return None


class Oracle:
    """The rules of one instance, for the groups of its compiled :class:`Problem`."""

    def __init__(
        self, problem: Problem, demands: list[Demand], offers: list[Offer], rtt: RttTable
    ) -> None:
        self.problem = problem
        by_id = {d.id: d for d in demands}
        self.demands = [by_id[problem.demand_ids[d]] for d in range(problem.n_demands)]
        offer_by_id = {o.id: o for o in offers}
        self.offers = [offer_by_id[problem.offer_ids[o]] for o in range(problem.n_offers)]
        self.rtt = rtt

    def group(self, g: int) -> tuple[Demand, int, tuple[str, ...], int]:
        """(demand, option, served cities, unit size) of group ``g``."""
        p = self.problem
        a = int(p.group_alt[g])
        demand = self.demands[int(p.alt_demand[a])]
        cities = tuple(p.city_ids[c] for c in p.eligibilities[int(p.group_elig[g])].regions)
        return demand, int(p.alt_option[a]), cities, int(p.group_k[g])

    def refusal(self, g: int, o: int) -> str | None:
        demand, option, cities, k = self.group(g)
        return refusal(demand, option, cities, k, self.offers[o], self.rtt)

    def offers_for(self, g: int) -> list[int]:
        """Offers that may take units of group ``g`` (capacity aside)."""
        return [o for o in range(self.problem.n_offers) if self.refusal(g, o) is None]

    def footprint(self, g: int, o: int) -> int:
        return footprint(int(self.problem.group_k[g]), self.offers[o].gpus_per_node)

    def cost(self, o: int) -> float:
        """CNY per GPU-hour of offer ``o`` (its price: these instances weigh no power)."""
        return self.offers[o].price_cny_per_gpu_hour

    def violations(self, placement: object) -> list[str]:
        """Rows of a placement on offers the rules refuse, or beyond an offer's GPUs."""
        from suanli.placement.result import Placement

        assert isinstance(placement, Placement)
        s = placement.solution
        out = []
        used = [0] * self.problem.n_offers
        for g, o, units in zip(s.group, s.offer, s.units, strict=True):
            why = self.refusal(int(g), int(o))
            if why is not None:
                demand = self.group(int(g))[0]
                out.append(f"{demand.id} on {self.offers[int(o)].id}: {why}")
            used[int(o)] += int(units) * self.footprint(int(g), int(o))
        for o, gpus in enumerate(used):
            if gpus > self.offers[o].count:
                out.append(f"{self.offers[o].id}: {gpus} GPUs used of {self.offers[o].count}")
        return out
