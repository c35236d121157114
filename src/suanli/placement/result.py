"""A solver's answer as arrays (:class:`Solution`) and as the public :class:`Placement`.

Placements at national scale hold a million demands, so the per-demand views (assignments,
unplaced reasons, explanations) are lazy mappings over the solution arrays: building one
costs a sort, and a demand's entry is computed when it is read. The explanations (why each
offer was not used for a demand) are computed at the end of this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from suanli.placement.model import REASONS
from suanli.placement.problem import KIND_NAMES, FloatArray, IntArray, Problem


@dataclass(frozen=True, slots=True, eq=False)
class Solution:
    """Rows ``(group, offer, units)`` of placed units; ``chosen_alt[d]`` is the alternative
    used for demand d or -1 when it is unplaced."""

    group: IntArray
    offer: IntArray
    units: IntArray
    chosen_alt: IntArray
    method: str
    status: str  # optimal | time_limit | heuristic
    lower_bound: float | None = None  # on the objective (cost plus unplaced penalties)
    lp_unplaced_gpus: int | None = None  # GPUs of demand the LP relaxation leaves unplaced


@dataclass(frozen=True, slots=True)
class Assignment:
    """Units of one demand on one offer: ``replicas`` units of ``gpus_per_replica`` GPUs
    taking ``gpus`` GPUs (whole nodes where a unit does not pack into a node)."""

    offer_id: str
    site: str
    gpu: str
    replicas: int
    gpus_per_replica: int
    gpus: int
    price_cny_per_gpu_hour: float
    cost_cny_per_hour: float
    rtt_ms: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class OfferRejection:
    """An offer not used for a demand, and why (a name from ``model.REASONS``)."""

    offer_id: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a demand went where it went: offers considered, chosen and rejected."""

    demand_id: str
    kind: str
    placed: bool
    option: str
    considered: int
    chosen: tuple[Assignment, ...]
    rejected: tuple[OfferRejection, ...]
    rejected_by_reason: Mapping[str, int]
    reason: str | None = None


class _LazyMap(Mapping[str, Any]):
    """A read-only mapping over demand ids whose values are computed on access."""

    def __init__(self, keys: list[int], ids: Any, compute: Any) -> None:
        self._keys, self._ids, self._compute = keys, ids, compute
        self._pos: dict[str, int] | None = None
        self._memo: dict[int, Any] = {}

    def _index(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = {self._ids[d]: d for d in self._keys}
        return self._pos

    def __getitem__(self, key: str) -> Any:
        d = self._index()[key]
        if d not in self._memo:
            self._memo[d] = self._compute(d)
        return self._memo[d]

    def __iter__(self) -> Iterator[str]:
        return (self._ids[d] for d in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True, eq=False)
class Placement:
    """The plan: per placed demand its assignments, per unplaced demand its binding reason,
    costs (listed prices), the objective (incl. power weight and unplaced penalties) and the
    solver's lower bound on it."""

    problem: Problem = field(repr=False)
    solution: Solution = field(repr=False)

    @property
    def method(self) -> str:
        return self.solution.method

    @property
    def status(self) -> str:
        return self.solution.status

    @cached_property
    def _rows(self) -> tuple[IntArray, IntArray]:
        p, s = self.problem, self.solution
        demand = p.alt_demand[p.group_alt[s.group]] if len(s.group) else np.zeros(0, np.int64)
        order = np.argsort(demand, kind="stable")
        starts = np.searchsorted(demand[order], np.arange(p.n_demands + 1))
        return order, starts

    @cached_property
    def row_gpus(self) -> IntArray:
        p, s = self.problem, self.solution
        fp = p.footprint(p.group_k[s.group], p.offer_node[s.offer])
        out: IntArray = s.units * fp
        return out

    @cached_property
    def used_gpus(self) -> IntArray:
        """GPUs taken per offer."""
        used = np.zeros(self.problem.n_offers, dtype=np.int64)
        np.add.at(used, self.solution.offer, self.row_gpus)
        return used

    @cached_property
    def total_cost_cny_per_hour(self) -> float:
        return float(np.sum(self.row_gpus * self.problem.offer_price[self.solution.offer]))

    @cached_property
    def objective_value(self) -> float:
        p = self.problem
        unplaced = self.solution.chosen_alt < 0
        return self.cost_value + float(np.sum(p.unplaced_penalty()[unplaced]))

    @property
    def lower_bound(self) -> float | None:
        return self.solution.lower_bound

    @property
    def objective_gap(self) -> float | None:
        """(objective - lower bound) / lower bound: mixes cost with unplaced penalties, so a
        plan far above the cheapest can look close; see :attr:`gap` for cost alone."""
        lb = self.lower_bound
        if lb is None:
            return None
        return (self.objective_value - lb) / max(abs(lb), 1e-9)

    @cached_property
    def cost_value(self) -> float:
        """The objective's cost part (CNY/h incl. weighted power), without penalties."""
        p = self.problem
        return float(np.sum(self.row_gpus * p.offer_cost[self.solution.offer]))

    @cached_property
    def unplaced_gpus(self) -> int:
        """GPUs of the unplaced demands (each at its smallest alternative)."""
        unplaced = self.solution.chosen_alt < 0
        return int(self.problem.demand_min_gpus()[unplaced].sum())

    @property
    def unplaced_gpus_bound(self) -> int | None:
        """A lower bound on the GPUs any plan leaves unplaced: this plan's own when proven
        optimal, else the LP relaxation's (fast solver), else None."""
        if self.status == "optimal":
            return self.unplaced_gpus
        if self.problem.objective == "cost":
            return self.solution.lp_unplaced_gpus
        return None

    @property
    def cost_lower_bound(self) -> float | None:
        """A lower bound on the cost of any plan leaving :attr:`unplaced_gpus_bound` GPUs
        unplaced (the objective bound less the bound's penalties), or None."""
        if self.status == "optimal":
            return self.cost_value
        lb, unmet = self.lower_bound, self.unplaced_gpus_bound
        if lb is None or unmet is None or self.problem.objective != "cost":
            return None
        return lb - unmet * self.problem.penalty_per_gpu

    @property
    def gap(self) -> float | None:
        """Cost alone above its lower bound, as a fraction: (cost - bound) / bound. Only
        where the plan leaves as few GPUs unplaced as the bound does (else the two costs
        buy different amounts and None is returned: see :attr:`unplaced_gpus` against
        :attr:`unplaced_gpus_bound`)."""
        bound = self.cost_lower_bound
        if bound is None or self.unplaced_gpus != self.unplaced_gpus_bound:
            return None
        return (self.cost_value - bound) / max(abs(bound), 1e-9)

    @cached_property
    def unplaced_index(self) -> list[int]:
        return [int(d) for d in np.flatnonzero(self.solution.chosen_alt < 0)]

    @property
    def placed_count(self) -> int:
        return self.problem.n_demands - len(self.unplaced_index)

    @cached_property
    def assignments(self) -> Mapping[str, tuple[Assignment, ...]]:
        placed = [int(d) for d in np.flatnonzero(self.solution.chosen_alt >= 0)]
        return _LazyMap(placed, self.problem.demand_ids, self._assignments_of)

    @cached_property
    def unplaced(self) -> Mapping[str, str]:
        return _LazyMap(
            self.unplaced_index, self.problem.demand_ids, lambda d: binding_reason(self, d)
        )

    @cached_property
    def explanations(self) -> Mapping[str, Explanation]:
        return _LazyMap(
            list(range(self.problem.n_demands)),
            self.problem.demand_ids,
            lambda d: explain(self, d),
        )

    def rows_of(self, d: int) -> IntArray:
        order, starts = self._rows
        out: IntArray = order[starts[d] : starts[d + 1]]
        return out

    def _assignments_of(self, d: int) -> tuple[Assignment, ...]:
        return tuple(self.assignment(int(r)) for r in self.rows_of(d))

    def assignment(self, r: int) -> Assignment:
        p, s = self.problem, self.solution
        g, o = int(s.group[r]), int(s.offer[r])
        e = p.eligibilities[int(p.group_elig[g])]
        gpus = int(self.row_gpus[r])
        rtt = {p.city_ids[c]: float(p.rtt_ms[c, p.offer_site[o]]) for c in e.regions}
        return Assignment(
            offer_id=p.offer_ids[o],
            site=p.site_ids[int(p.offer_site[o])],
            gpu=p.type_names[int(p.offer_type[o])],
            replicas=int(s.units[r]),
            gpus_per_replica=int(p.group_k[g]),
            gpus=gpus,
            price_cny_per_gpu_hour=float(p.offer_price[o]),
            cost_cny_per_hour=gpus * float(p.offer_price[o]),
            rtt_ms=rtt,
        )

    def summary(self) -> dict[str, Any]:
        """Headline figures (no per-demand detail)."""
        return {
            "method": self.method,
            "status": self.status,
            "demands": self.problem.n_demands,
            "placed": self.placed_count,
            "unplaced": len(self.unplaced_index),
            "total_cost_cny_per_hour": self.total_cost_cny_per_hour,
            "objective": self.objective_value,
            "lower_bound": self.lower_bound,
            "gap": self.gap,
            "cost_lower_bound": self.cost_lower_bound,
            "unplaced_gpus": self.unplaced_gpus,
            "unplaced_gpus_bound": self.unplaced_gpus_bound,
            "objective_gap": self.objective_gap,
        }

    def to_dict(self, *, explain: bool = True) -> dict[str, Any]:
        """JSON-ready: summary, assignments, unplaced reasons and (optionally) explanations."""
        out = self.summary()
        out["assignments"] = {k: list(v) for k, v in self.assignments.items()}
        out["unplaced_reasons"] = dict(self.unplaced)
        if explain:
            out["explanations"] = dict(self.explanations)
        return out


def kind_name(problem: Problem, d: int) -> str:
    return KIND_NAMES[int(problem.demand_kind[d])]


def costs_of(problem: Problem, rows_offer: IntArray, rows_gpus: IntArray) -> FloatArray:
    out: FloatArray = rows_gpus * problem.offer_cost[rows_offer]
    return out


# --- explanations ---------------------------------------------------------------------
#
# Explanations: for a demand, every offer considered, the chosen ones and why the others
# were rejected; for an unplaced demand, the binding reason.
#
# An offer's reason for a demand is the *latest* check it fails over all of the demand's
# units (the closest it came to being acceptable): an H100 offer 40 ms away from a demand that
# accepts H100 within 20 ms is rejected for ``latency``, not ``gpu_type``. Offers that pass
# every check but were not used are rejected for ``capacity`` (too few free GPUs left) or
# ``cost`` (a cheaper acceptable offer was used). Reason masks are cached per (eligibility,
# unit size), so explaining is cheap even for a national placement.


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
