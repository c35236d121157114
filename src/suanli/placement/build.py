"""Turn demand and offer objects into a :class:`~suanli.placement.problem.Problem`,
checking every field on the way (errors name the item and the field).

:func:`build_problem` runs four named steps: :func:`check_offers` (each offer valid, ids
unique, GPU names and fabrics canonical), :class:`Layout` fed with the offers and then each
demand (:func:`add_demand`: indices of GPU types, sites, cities, eligibilities and the
alternatives/groups of every demand), :func:`offer_costs` (price plus weighted power) and
:func:`rtt_block` (sites resolved as sites before cities). A demand whose own GPU types
cannot meet its memory or interconnect minimum is laid out like any other: no offer is
eligible, so it is reported unplaced with that reason while the rest are placed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from suanli.catalog import gpu as catalog_gpu
from suanli.catalog import gpus as catalog_gpus
from suanli.catalog import site as catalog_site
from suanli.catalog.geography import place
from suanli.errors import InvalidRequest, NotFound
from suanli.geo import LatencyModel, rtt_matrix
from suanli.placement.model import (
    BatchDemand,
    Demand,
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
    ServeOption,
    check_fabric_choice,
    parse_fabric,
)
from suanli.placement.problem import (
    KIND_BATCH,
    KIND_GANG,
    KIND_SERVE,
    Eligibility,
    FloatArray,
    Objective,
    Problem,
    split_replicas,
)

PENALTY_FACTOR = 100.0


def _bad(item: str, field: str, message: str, hint: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{item}: {message}", field=field, hint=hint, context={"item": item})


def _gpu_name(name: str, item: str, field: str) -> str:
    try:
        return catalog_gpu(name).name
    except NotFound as exc:
        raise _bad(item, field, exc.message, exc.hint) from None


def _whole(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_offer(o: Offer) -> Offer:
    """Validate one offer; return it with the canonical GPU and fabric names."""
    item = f"offer {o.id!r}"
    if not o.id:
        raise _bad("offer", "id", "needs a non-empty id")
    if not o.site:
        raise _bad(item, "site", "needs a site")
    if not _whole(o.count, 0):
        raise _bad(item, "count", f"count must be a whole number >= 0, got {o.count!r}")
    if not _whole(o.gpus_per_node, 1):
        raise _bad(item, "gpus_per_node", f"must be a whole number >= 1, got {o.gpus_per_node!r}")
    if not (math.isfinite(o.price_cny_per_gpu_hour) and o.price_cny_per_gpu_hour >= 0):
        raise _bad(item, "price_cny_per_gpu_hour", "must be a finite number >= 0")
    if not o.end_h > o.start_h:
        raise _bad(item, "end_h", f"end_h {o.end_h} must be after start_h {o.start_h}")
    try:
        fabric = parse_fabric(o.fabric).name
    except InvalidRequest as exc:
        raise _bad(item, "fabric", exc.message, exc.hint) from None
    name = _gpu_name(o.gpu, item, "gpu")
    if name == o.gpu and fabric == o.fabric:
        return o
    return replace(o, gpu=name, fabric=fabric)


def check_offers(offers: Sequence[Offer]) -> list[Offer]:
    """Every offer checked (:func:`check_offer`), ids unique."""
    checked = [check_offer(o) for o in offers]
    seen: set[str] = set()
    for o in checked:
        if o.id in seen:
            raise _bad(f"offer {o.id!r}", "id", "duplicate offer id")
        seen.add(o.id)
    return checked


def _gpu_types(types: Sequence[str], item: str) -> list[str]:
    """Canonical names of a demand's GPU types. Whether they meet the demand's memory or
    interconnect minimum is an eligibility check (reason ``memory`` / ``fabric``), so such a
    demand ends up unplaced with its reason instead of stopping the whole run."""
    if not types:
        raise _bad(item, "gpu_types", "no GPU type can serve this demand (the list is empty)")
    return [_gpu_name(t, item, "gpu_types") for t in types]


def _index(table: dict[str, int], names: list[str], name: str) -> int:
    if name not in table:
        table[name] = len(names)
        names.append(name)
    return table[name]


@dataclass
class Layout:
    """The growing index tables and alternative/group columns of a problem."""

    type_names: list[str] = field(default_factory=list)
    site_ids: list[str] = field(default_factory=list)
    city_ids: list[str] = field(default_factory=list)
    eligibilities: dict[Eligibility, int] = field(default_factory=dict)
    kinds: list[int] = field(default_factory=list)
    demand_ids: list[str] = field(default_factory=list)
    alt_demand: list[int] = field(default_factory=list)
    alt_option: list[int] = field(default_factory=list)
    alt_split: list[bool] = field(default_factory=list)
    group_alt: list[int] = field(default_factory=list)
    group_units: list[int] = field(default_factory=list)
    group_k: list[int] = field(default_factory=list)
    group_elig: list[int] = field(default_factory=list)
    city_owner: dict[str, str] = field(default_factory=dict)  # city -> first demand id
    site_owner: dict[str, str] = field(default_factory=dict)  # site -> first offer id
    _types: dict[str, int] = field(default_factory=dict)
    _sites: dict[str, int] = field(default_factory=dict)
    _cities: dict[str, int] = field(default_factory=dict)

    def type_index(self, name: str) -> int:
        return _index(self._types, self.type_names, name)

    def site_index(self, site: str) -> int:
        return _index(self._sites, self.site_ids, site)

    def city_index(self, city: str) -> int:
        return _index(self._cities, self.city_ids, city)

    def eligibility(self, e: Eligibility) -> int:
        return self.eligibilities.setdefault(e, len(self.eligibilities))

    def add_offers(self, offers: Sequence[Offer]) -> None:
        for o in offers:
            self.site_index(o.site)
            self.site_owner.setdefault(o.site, o.id)
        for o in offers:
            self.type_index(o.gpu)

    def add_alternative(
        self, d: int, option: int, split: bool, groups: list[tuple[int, int, int]]
    ) -> None:
        """Alternative ``option`` of demand d: groups of (units, GPUs per unit, eligibility)."""
        a = len(self.alt_demand)
        self.alt_demand.append(d)
        self.alt_option.append(option)
        self.alt_split.append(split)
        for units, k, e in groups:
            self.group_alt.append(a)
            self.group_units.append(units)
            self.group_k.append(k)
            self.group_elig.append(e)


def add_demand(layout: Layout, d: int, dem: Demand) -> None:
    """Check demand d and lay out its alternatives."""
    item = f"demand {dem.id!r}"
    if isinstance(dem, ServeDemand):
        layout.kinds.append(KIND_SERVE)
        _add_serve(layout, d, dem, item)
    elif isinstance(dem, GangDemand):
        layout.kinds.append(KIND_GANG)
        _add_gang(layout, d, dem, item)
    elif isinstance(dem, BatchDemand):
        layout.kinds.append(KIND_BATCH)
        _add_batch(layout, d, dem, item)
    else:
        raise _bad(item, "kind", f"unknown demand type {type(dem).__name__}")


def _add_gang(layout: Layout, d: int, dem: GangDemand, item: str) -> None:
    if not _whole(dem.gpus, 1):
        raise _bad(item, "gpus", f"must be a whole number >= 1, got {dem.gpus!r}")
    if not dem.hours > 0:
        raise _bad(item, "hours", "must be > 0")
    choices: list[str] = []
    for choice in dem.fabrics:
        try:
            choices.append(check_fabric_choice(choice))
        except InvalidRequest as exc:
            raise _bad(item, "fabrics", exc.message, exc.hint) from None
    names = _gpu_types(dem.gpu_types, item)
    e = Eligibility(
        types=tuple(sorted(layout.type_index(n) for n in names)),
        max_price=dem.max_price_cny_per_gpu_hour,
        start_h=dem.start_h,
        end_h=dem.start_h + dem.hours,
        min_interconnect_gb_s=dem.min_interconnect_gb_s,
        min_memory_gb=dem.min_memory_gb,
        allow_interruptible=dem.allow_interruptible,
        fabrics=tuple(choices),
    )
    layout.add_alternative(d, 0, False, [(1, dem.gpus, layout.eligibility(e))])


def _add_batch(layout: Layout, d: int, dem: BatchDemand, item: str) -> None:
    if not dem.gpu_hours > 0:
        raise _bad(item, "gpu_hours", "must be > 0")
    if not dem.deadline_h > dem.start_h:
        raise _bad(item, "deadline_h", "must be after start_h")
    names = _gpu_types(dem.gpu_types, item)
    e = Eligibility(
        types=tuple(sorted(layout.type_index(n) for n in names)),
        max_price=dem.max_price_cny_per_gpu_hour,
        start_h=dem.start_h,
        end_h=dem.deadline_h,
        min_memory_gb=dem.min_memory_gb,
        allow_interruptible=dem.allow_interruptible,
    )
    layout.add_alternative(d, 0, False, [(dem.gpus, 1, layout.eligibility(e))])


def _add_serve(layout: Layout, d: int, dem: ServeDemand, item: str) -> None:
    if not dem.options:
        raise _bad(
            item,
            "options",
            "no GPU type can serve this demand (no serving option)",
            hint="Sizing found no configuration; try a smaller model, fp8/int4 or a looser SLO.",
        )
    if not dem.hours > 0:
        raise _bad(item, "hours", "must be > 0")
    for i, opt in enumerate(dem.options):
        _add_serve_option(layout, d, dem, i, opt, item)


def _serve_regions(
    layout: Layout, opt: ServeOption, item: str, where: str
) -> tuple[list[int], list[float], list[float]]:
    """City indices, RTT budgets and traffic weights of one serving option's regions."""
    if not opt.regions:
        raise _bad(item, f"{where}.regions", "needs at least one user region")
    regions: list[int] = []
    budgets: list[float] = []
    weights: list[float] = []
    for city, weight in opt.regions:
        if not weight > 0:
            raise _bad(item, f"{where}.regions", f"weight of {city!r} must be > 0")
        if city not in opt.rtt_budget_ms:
            raise _bad(item, f"{where}.rtt_budget_ms", f"no RTT budget for region {city!r}")
        budget = float(opt.rtt_budget_ms[city])
        if not budget >= 0:
            raise _bad(
                item,
                f"{where}.rtt_budget_ms",
                f"RTT budget for {city!r} is {budget} ms: the TTFT target leaves no network time",
                hint="Relax the TTFT target or choose a faster configuration.",
            )
        regions.append(layout.city_index(city))
        layout.city_owner.setdefault(city, item)
        budgets.append(budget)
        weights.append(float(weight))
    return regions, budgets, weights


def _add_serve_option(
    layout: Layout, d: int, dem: ServeDemand, i: int, opt: ServeOption, item: str
) -> None:
    where = f"options[{i}]"
    name = _gpu_name(opt.gpu, item, f"{where}.gpu")
    if not _whole(opt.gpus_per_replica, 1):
        raise _bad(item, f"{where}.gpus_per_replica", "must be a whole number >= 1")
    if not _whole(opt.replicas, 1):
        raise _bad(item, f"{where}.replicas", "must be a whole number >= 1")
    regions, budgets, weights = _serve_regions(layout, opt, item, where)
    t = layout.type_index(name)

    def elig(rs: list[int], bs: list[float]) -> int:
        return layout.eligibility(
            Eligibility(
                types=(t,),
                regions=tuple(rs),
                budgets_ms=tuple(bs),
                max_price=opt.max_price_cny_per_gpu_hour,
                start_h=dem.start_h,
                end_h=dem.start_h + dem.hours,
                allow_interruptible=dem.allow_interruptible,
            )
        )

    k = opt.gpus_per_replica
    layout.add_alternative(d, i, False, [(opt.replicas, k, elig(regions, budgets))])
    if dem.allow_split and len(regions) > 1:
        shares = split_replicas(opt.replicas, weights)
        groups = [(n, k, elig([r], [b])) for n, r, b in zip(shares, regions, budgets, strict=True)]
        layout.add_alternative(d, i, True, groups)


def offer_costs(offers: Sequence[Offer], power_weight: float) -> tuple[FloatArray, FloatArray]:
    """Listed prices and the objective's costs (price plus ``power_weight`` x power cost)."""
    price = np.array([o.price_cny_per_gpu_hour for o in offers], dtype=np.float64)
    cost = price.copy()
    if power_weight > 0:
        cat = {g.name: g for g in catalog_gpus()}
        for i, o in enumerate(offers):
            try:
                s = catalog_site(o.site)
            except NotFound:
                raise _bad(f"offer {o.id!r}", "site", "power weight needs a catalog site") from None
            cost[i] += power_weight * cat[o.gpu].tdp_w / 1000 * s.pue * s.power_cny_per_kwh
    return price, cost


def rtt_block(
    latency: LatencyModel | RttTable | None, cities: list[str], sites: list[str]
) -> FloatArray:
    """RTT in ms, demand cities x offer sites. An offer's site is looked up among the sites
    first (``chongqing`` is a site and a city: an offer there is at the site)."""
    if not cities or not sites:
        return np.zeros((len(cities), len(sites)), dtype=np.float64)
    if isinstance(latency, RttTable):
        return latency.sub(cities, sites)
    located = [place(s, prefer="site") for s in sites]
    return rtt_matrix(cities, located, latency or LatencyModel())


def check_places(layout: Layout) -> None:
    """Every demand city and offer site is in the catalog (else the error names the demand
    or offer that first uses it)."""
    for city, item in layout.city_owner.items():
        try:
            place(city)
        except NotFound as exc:
            raise _bad(item, "regions", exc.message, exc.hint) from None
    for site, offer_id in layout.site_owner.items():
        try:
            place(site, prefer="site")
        except NotFound as exc:
            raise _bad(f"offer {offer_id!r}", "site", exc.message, exc.hint) from None


def build_problem(
    demands: Sequence[Demand],
    offers: Sequence[Offer],
    latency: LatencyModel | RttTable | None = None,
    *,
    objective: Objective = "cost",
    power_weight: float = 0.0,
) -> Problem:
    """Validate the inputs and lay them out as arrays (see :mod:`suanli.placement.problem`)."""
    if objective not in ("cost", "placed"):
        raise InvalidRequest(
            f"unknown objective {objective!r}", field="objective", hint="Use cost or placed."
        )
    if not power_weight >= 0:
        raise InvalidRequest("power_weight must be >= 0", field="power_weight")
    offers = check_offers(offers)
    layout = Layout()
    layout.add_offers(offers)
    seen: set[str] = set()
    for d, dem in enumerate(demands):
        if not getattr(dem, "id", ""):
            raise _bad(f"demand #{d}", "id", "needs a non-empty id")
        if dem.id in seen:
            raise _bad(f"demand {dem.id!r}", "id", "duplicate demand id")
        seen.add(dem.id)
        layout.demand_ids.append(dem.id)
        add_demand(layout, d, dem)
    return _problem(layout, offers, latency, objective, power_weight)


def _problem(
    layout: Layout,
    offers: list[Offer],
    latency: LatencyModel | RttTable | None,
    objective: Objective,
    power_weight: float,
) -> Problem:
    lay = layout
    if not isinstance(latency, RttTable):
        check_places(lay)
    price, cost = offer_costs(offers, power_weight)
    cat = {g.name: g for g in catalog_gpus()}
    fabric_names = sorted({o.fabric for o in offers})
    max_cost = float(cost.max()) if len(cost) else 1.0
    all_gpus = [u * k for u, k in zip(lay.group_units, lay.group_k, strict=True)] or [1]
    site_of = {s: i for i, s in enumerate(lay.site_ids)}
    type_of = {t: i for i, t in enumerate(lay.type_names)}
    return Problem(
        site_ids=tuple(lay.site_ids),
        type_names=tuple(lay.type_names),
        city_ids=tuple(lay.city_ids),
        fabric_names=tuple(fabric_names),
        rtt_ms=rtt_block(latency, lay.city_ids, lay.site_ids),
        type_interconnect_gb_s=np.array([cat[t].interconnect_gb_s for t in lay.type_names]),
        type_memory_gb=np.array([cat[t].memory_gb for t in lay.type_names]),
        offer_ids=[o.id for o in offers],
        offer_site=np.array([site_of[o.site] for o in offers], dtype=np.int64),
        offer_type=np.array([type_of[o.gpu] for o in offers], dtype=np.int64),
        offer_cap=np.array([o.count for o in offers], dtype=np.int64),
        offer_node=np.array([o.gpus_per_node for o in offers], dtype=np.int64),
        offer_price=price,
        offer_cost=cost,
        offer_start=np.array([o.start_h for o in offers], dtype=np.float64),
        offer_end=np.array([o.end_h for o in offers], dtype=np.float64),
        offer_interruptible=np.array([o.interruptible for o in offers], dtype=bool),
        offer_fabric=np.array([fabric_names.index(o.fabric) for o in offers], dtype=np.int64),
        demand_ids=lay.demand_ids,
        demand_kind=np.array(lay.kinds, dtype=np.int8),
        alt_demand=np.array(lay.alt_demand, dtype=np.int64),
        alt_option=np.array(lay.alt_option, dtype=np.int64),
        alt_split=np.array(lay.alt_split, dtype=bool),
        group_alt=np.array(lay.group_alt, dtype=np.int64),
        group_units=np.array(lay.group_units, dtype=np.int64),
        group_k=np.array(lay.group_k, dtype=np.int64),
        group_elig=np.array(lay.group_elig, dtype=np.int64),
        eligibilities=tuple(lay.eligibilities),
        objective=objective,
        penalty_per_gpu=PENALTY_FACTOR * (max_cost + 1.0),
        penalty_per_demand=PENALTY_FACTOR * (max_cost + 1.0) * max(all_gpus),
    )
