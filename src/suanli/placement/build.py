"""Turn demand and offer objects into a :class:`~suanli.placement.problem.Problem`,
checking every field on the way (errors name the item and the field)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from suanli.catalog import gpu as catalog_gpu
from suanli.catalog import gpus as catalog_gpus
from suanli.catalog import site as catalog_site
from suanli.errors import InvalidRequest, NotFound
from suanli.geo import LatencyModel, rtt_matrix
from suanli.placement.model import (
    BatchDemand,
    Demand,
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
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


def check_offer(o: Offer) -> Offer:
    """Validate one offer; return it with the canonical GPU name."""
    item = f"offer {o.id!r}"
    if not o.id:
        raise _bad("offer", "id", "needs a non-empty id")
    if not o.site:
        raise _bad(item, "site", "needs a site")
    if not isinstance(o.count, int) or isinstance(o.count, bool) or o.count < 0:
        raise _bad(item, "count", f"count must be a whole number >= 0, got {o.count!r}")
    if not isinstance(o.gpus_per_node, int) or o.gpus_per_node < 1:
        raise _bad(item, "gpus_per_node", f"must be a whole number >= 1, got {o.gpus_per_node!r}")
    if not (math.isfinite(o.price_cny_per_gpu_hour) and o.price_cny_per_gpu_hour >= 0):
        raise _bad(item, "price_cny_per_gpu_hour", "must be a finite number >= 0")
    if not o.end_h > o.start_h:
        raise _bad(item, "end_h", f"end_h {o.end_h} must be after start_h {o.start_h}")
    name = _gpu_name(o.gpu, item, "gpu")
    if name == o.gpu:
        return o
    from dataclasses import replace

    return replace(o, gpu=name)


def _serving_types(types: Sequence[str], item: str, min_ic: float, min_mem: float) -> list[str]:
    if not types:
        raise _bad(item, "gpu_types", "no GPU type can serve this demand (the list is empty)")
    names = [_gpu_name(t, item, "gpu_types") for t in types]
    ok = [
        n
        for n in names
        if catalog_gpu(n).interconnect_gb_s >= min_ic and catalog_gpu(n).memory_gb >= min_mem
    ]
    if not ok:
        best_ic = max(g.interconnect_gb_s for g in catalog_gpus())
        raise _bad(
            item,
            "gpu_types",
            f"no GPU type can serve this demand: none of {names} has interconnect >= "
            f"{min_ic} GB/s and memory >= {min_mem} GB",
            hint=f"Relax min_interconnect_gb_s (best known {best_ic}) or min_memory_gb.",
        )
    return ok


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
    offers = [check_offer(o) for o in offers]
    seen: set[str] = set()
    for o in offers:
        if o.id in seen:
            raise _bad(f"offer {o.id!r}", "id", "duplicate offer id")
        seen.add(o.id)

    type_names: list[str] = []
    type_index: dict[str, int] = {}

    def tix(name: str) -> int:
        if name not in type_index:
            type_index[name] = len(type_names)
            type_names.append(name)
        return type_index[name]

    site_ids: list[str] = []
    site_index: dict[str, int] = {}
    for o in offers:
        if o.site not in site_index:
            site_index[o.site] = len(site_ids)
            site_ids.append(o.site)
    fabric_names = sorted({o.fabric for o in offers})
    city_ids: list[str] = []
    city_index: dict[str, int] = {}

    def cix(city: str) -> int:
        if city not in city_index:
            city_index[city] = len(city_ids)
            city_ids.append(city)
        return city_index[city]

    for o in offers:
        tix(o.gpu)

    elig_index: dict[Eligibility, int] = {}

    def eix(e: Eligibility) -> int:
        return elig_index.setdefault(e, len(elig_index))

    kinds: list[int] = []
    demand_ids: list[str] = []
    alt_demand: list[int] = []
    alt_option: list[int] = []
    alt_split: list[bool] = []
    group_alt: list[int] = []
    group_units: list[int] = []
    group_k: list[int] = []
    group_elig: list[int] = []

    def add_alt(d: int, option: int, split: bool, groups: list[tuple[int, int, int]]) -> None:
        a = len(alt_demand)
        alt_demand.append(d)
        alt_option.append(option)
        alt_split.append(split)
        for units, k, e in groups:
            group_alt.append(a)
            group_units.append(units)
            group_k.append(k)
            group_elig.append(e)

    seen_d: set[str] = set()
    for d, dem in enumerate(demands):
        item = f"demand {getattr(dem, 'id', d)!r}"
        if not getattr(dem, "id", ""):
            raise _bad(f"demand #{d}", "id", "needs a non-empty id")
        if dem.id in seen_d:
            raise _bad(item, "id", "duplicate demand id")
        seen_d.add(dem.id)
        demand_ids.append(dem.id)
        if isinstance(dem, ServeDemand):
            kinds.append(KIND_SERVE)
            _add_serve(dem, d, item, tix, cix, eix, add_alt)
        elif isinstance(dem, GangDemand):
            kinds.append(KIND_GANG)
            if not isinstance(dem.gpus, int) or dem.gpus < 1:
                raise _bad(item, "gpus", f"must be a whole number >= 1, got {dem.gpus!r}")
            if not dem.hours > 0:
                raise _bad(item, "hours", "must be > 0")
            names = _serving_types(
                dem.gpu_types, item, dem.min_interconnect_gb_s, dem.min_memory_gb
            )
            e = Eligibility(
                types=tuple(sorted(tix(n) for n in names)),
                max_price=dem.max_price_cny_per_gpu_hour,
                start_h=dem.start_h,
                end_h=dem.start_h + dem.hours,
                min_interconnect_gb_s=dem.min_interconnect_gb_s,
                min_memory_gb=dem.min_memory_gb,
                allow_interruptible=dem.allow_interruptible,
                fabrics=tuple(dem.fabrics),
            )
            add_alt(d, 0, False, [(1, dem.gpus, eix(e))])
        elif isinstance(dem, BatchDemand):
            kinds.append(KIND_BATCH)
            if not dem.gpu_hours > 0:
                raise _bad(item, "gpu_hours", "must be > 0")
            if not dem.deadline_h > dem.start_h:
                raise _bad(item, "deadline_h", "must be after start_h")
            names = _serving_types(dem.gpu_types, item, 0.0, dem.min_memory_gb)
            e = Eligibility(
                types=tuple(sorted(tix(n) for n in names)),
                max_price=dem.max_price_cny_per_gpu_hour,
                start_h=dem.start_h,
                end_h=dem.deadline_h,
                min_memory_gb=dem.min_memory_gb,
                allow_interruptible=dem.allow_interruptible,
            )
            add_alt(d, 0, False, [(dem.gpus, 1, eix(e))])
        else:
            raise _bad(item, "kind", f"unknown demand type {type(dem).__name__}")

    rtt = _rtt(latency, city_ids, site_ids)
    cat = {g.name: g for g in catalog_gpus()}
    price = np.array([o.price_cny_per_gpu_hour for o in offers], dtype=np.float64)
    cost = price.copy()
    if power_weight > 0:
        for i, o in enumerate(offers):
            try:
                s = catalog_site(o.site)
            except NotFound:
                raise _bad(f"offer {o.id!r}", "site", "power weight needs a catalog site") from None
            cost[i] += power_weight * cat[o.gpu].tdp_w / 1000 * s.pue * s.power_cny_per_kwh
    max_cost = float(cost.max()) if len(cost) else 1.0
    all_gpus = [u * k for u, k in zip(group_units, group_k, strict=True)] or [1]
    return Problem(
        site_ids=tuple(site_ids),
        type_names=tuple(type_names),
        city_ids=tuple(city_ids),
        fabric_names=tuple(fabric_names),
        rtt_ms=rtt,
        type_interconnect_gb_s=np.array([cat[t].interconnect_gb_s for t in type_names]),
        type_memory_gb=np.array([cat[t].memory_gb for t in type_names]),
        offer_ids=[o.id for o in offers],
        offer_site=np.array([site_index[o.site] for o in offers], dtype=np.int64),
        offer_type=np.array([type_index[o.gpu] for o in offers], dtype=np.int64),
        offer_cap=np.array([o.count for o in offers], dtype=np.int64),
        offer_node=np.array([o.gpus_per_node for o in offers], dtype=np.int64),
        offer_price=price,
        offer_cost=cost,
        offer_start=np.array([o.start_h for o in offers], dtype=np.float64),
        offer_end=np.array([o.end_h for o in offers], dtype=np.float64),
        offer_interruptible=np.array([o.interruptible for o in offers], dtype=bool),
        offer_fabric=np.array([fabric_names.index(o.fabric) for o in offers], dtype=np.int64),
        demand_ids=demand_ids,
        demand_kind=np.array(kinds, dtype=np.int8),
        alt_demand=np.array(alt_demand, dtype=np.int64),
        alt_option=np.array(alt_option, dtype=np.int64),
        alt_split=np.array(alt_split, dtype=bool),
        group_alt=np.array(group_alt, dtype=np.int64),
        group_units=np.array(group_units, dtype=np.int64),
        group_k=np.array(group_k, dtype=np.int64),
        group_elig=np.array(group_elig, dtype=np.int64),
        eligibilities=tuple(elig_index),
        objective=objective,
        penalty_per_gpu=PENALTY_FACTOR * (max_cost + 1.0),
        penalty_per_demand=PENALTY_FACTOR * (max_cost + 1.0) * max(all_gpus),
    )


def _add_serve(dem, d, item, tix, cix, eix, add_alt) -> None:  # type: ignore[no-untyped-def]
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
        where = f"options[{i}]"
        name = _gpu_name(opt.gpu, item, f"{where}.gpu")
        if not isinstance(opt.gpus_per_replica, int) or opt.gpus_per_replica < 1:
            raise _bad(item, f"{where}.gpus_per_replica", "must be a whole number >= 1")
        if not isinstance(opt.replicas, int) or opt.replicas < 1:
            raise _bad(item, f"{where}.replicas", "must be a whole number >= 1")
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
                    f"RTT budget for {city!r} is {budget} ms: the TTFT target leaves no "
                    "network time",
                    hint="Relax the TTFT target or choose a faster configuration.",
                )
            regions.append(cix(city))
            budgets.append(budget)
            weights.append(float(weight))
        t = tix(name)

        def elig(rs: list[int], bs: list[float], t: int = t, opt=opt) -> int:  # type: ignore[no-untyped-def]
            return int(
                eix(
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
            )

        k = opt.gpus_per_replica
        add_alt(d, i, False, [(opt.replicas, k, elig(regions, budgets))])
        if dem.allow_split and len(regions) > 1:
            shares = split_replicas(opt.replicas, weights)
            groups = [
                (n, k, elig([r], [b])) for n, r, b in zip(shares, regions, budgets, strict=True)
            ]
            add_alt(d, i, True, groups)


def _rtt(
    latency: LatencyModel | RttTable | None, cities: list[str], sites: list[str]
) -> FloatArray:
    if not cities or not sites:
        return np.zeros((len(cities), len(sites)), dtype=np.float64)
    if isinstance(latency, RttTable):
        return latency.sub(cities, sites)
    return rtt_matrix(cities, sites, latency or LatencyModel())
