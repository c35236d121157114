"""Seeded benchmark instances built directly as arrays (no per-demand Python objects).

Sites are scattered over China's populated area; each lists ``types_per_site`` GPU types at
a price around the type's reference rental price (western sites about 15% cheaper), some of
it interruptible. Demands are a mix of

* serving (80%): users in one city (85%) or two (15%, which may split by region), an RTT
  budget of 12, 20, 30 or 45 ms, replicas of k = 1, 2, 4 or 8 GPUs on any of two or three GPU
  types fitting the model, some with a price limit;
* gang jobs (15%): 8-64 GPUs of one of two training GPU types in one offer;
* batch jobs (5%): 1-16 GPUs of any of four types, interruptible capacity welcome.

Total capacity is set to ``demand / load`` GPUs (load 0.85 by default), as in the study in
``shared/notes/placement.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from suanli import catalog
from suanli.catalog import City, cities, gpu, reference_prices
from suanli.geo import LatencyModel, rtt_matrix
from suanli.placement.problem import (
    KIND_BATCH,
    KIND_GANG,
    KIND_SERVE,
    BoolArray,
    Eligibility,
    FloatArray,
    IntArray,
    Problem,
    ids,
)

TYPES = ("H100-SXM", "H800-SXM", "A800-SXM-80GB", "A100-SXM-80GB", "H20", "L40S", "L20", "RTX-4090")
# (unit sizes, acceptable type sets) per model size class
SERVE_SETS: tuple[tuple[tuple[int, ...], tuple[tuple[str, ...], ...]], ...] = (
    ((1,), (("L40S", "L20"), ("L40S", "RTX-4090"), ("L20", "RTX-4090", "A800-SXM-80GB"))),
    ((1, 2), (("A800-SXM-80GB", "A100-SXM-80GB"), ("H20", "A800-SXM-80GB"))),
    ((2, 4), (("H800-SXM", "H100-SXM"), ("H20", "H800-SXM", "A800-SXM-80GB"))),
    ((8,), (("H100-SXM", "H800-SXM"), ("H800-SXM", "H20", "H100-SXM"))),
)
GANG_SETS = (("H100-SXM", "H800-SXM"), ("A800-SXM-80GB", "A100-SXM-80GB"), ("H800-SXM", "H20"))
BATCH_SETS = (("L40S", "L20", "RTX-4090", "A800-SXM-80GB"), ("H20", "A800-SXM-80GB", "L20", "L40S"))
BUDGETS_MS = (12.0, 20.0, 30.0, 45.0)


@dataclass(frozen=True, slots=True)
class _Point:
    id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class _Offers:
    """One row per offer: its site, GPU type (index into TYPES), price and fabric."""

    site: IntArray
    type: IntArray
    price: FloatArray
    fabric: IntArray


@dataclass(frozen=True, slots=True)
class _Groups:
    """Alternatives (demand position, split flag) and their groups (alternative, units, unit
    size, eligibility), one row per group, before sorting by demand."""

    alt_demand: IntArray
    alt_split: BoolArray
    group_alt: IntArray
    group_units: IntArray
    group_k: IntArray
    group_elig: IntArray


class _Eligibilities:
    """Distinct eligibilities, numbered in the order they are first asked for."""

    def __init__(self) -> None:
        self.index: dict[Eligibility, int] = {}

    def __call__(self, e: Eligibility) -> int:
        return self.index.setdefault(e, len(self.index))


def generate(
    n_sites: int,
    n_requests: int,
    *,
    seed: int = 0,
    types_per_site: int = 4,
    load: float = 0.85,
    china: bool = False,
) -> Problem:
    """A random national instance as a :class:`Problem` (see module docstring). With
    ``china`` the sites are the built-in catalog's (``n_sites`` is ignored).

    The steps draw from one seeded generator in a fixed order: sites, offers, serving
    demands, gang and batch demands, arrival order, interruptible offers, capacity."""
    rng = np.random.default_rng(seed)
    city_list = cities()
    sites, west = _sites(rng, n_sites, china)
    rtt = rtt_matrix(list(city_list), sites, LatencyModel())
    offers = _offers(rng, len(sites), types_per_site, west)
    eligibilities = _Eligibilities()
    n_serve = round(n_requests * 0.80)
    n_gang = round(n_requests * 0.15)
    n_batch = n_requests - n_serve - n_gang
    serving = _serving_groups(rng, n_serve, city_list, eligibilities)
    jobs = _job_groups(rng, n_gang, n_batch, eligibilities)
    groups, kinds = _in_arrival_order(rng, serving, jobs, n_gang)
    problem = _problem(rng, sites, city_list, rtt, offers, groups, kinds, eligibilities)
    return _with_capacity(rng, problem, load)


def _sites(rng: np.random.Generator, n_sites: int, china: bool) -> tuple[list[_Point], BoolArray]:
    """The sites (scattered over China's populated area, or the catalog's) and which are
    western (cheaper)."""
    if china:
        catalog_sites = catalog.sites()
        west = np.array([x.role == "west" for x in catalog_sites])
        return [_Point(x.id, x.lat, x.lon) for x in catalog_sites], west
    lat = rng.uniform(22.0, 41.0, n_sites)
    lon = rng.uniform(102.0, 122.0, n_sites)
    return [_Point(f"site{i}", float(lat[i]), float(lon[i])) for i in range(n_sites)], lon < 109.0


def _offers(
    rng: np.random.Generator, n_sites: int, types_per_site: int, west: BoolArray
) -> _Offers:
    """``types_per_site`` distinct GPU types per site, priced around the type's reference
    rental price (western sites 15% cheaper); NVLink types on an IB fabric."""
    ref = reference_prices()
    gpus = [gpu(t) for t in TYPES]
    per = min(types_per_site, len(TYPES))
    keys = rng.random((n_sites, len(TYPES)))
    o_type = np.argsort(keys, axis=1)[:, :per].ravel().astype(np.int64)
    o_site = np.repeat(np.arange(n_sites), per).astype(np.int64)
    base = np.array([ref[t] for t in TYPES])[o_type]
    noise = rng.lognormal(0.0, 0.12, len(o_type))
    price = np.round(base * noise * np.where(west[o_site], 0.85, 1.0), 2)
    fabric = np.array([0 if g.has_nvlink else 1 for g in gpus])[o_type].astype(np.int64)
    return _Offers(site=o_site, type=o_type, price=price, fabric=fabric)


def _serving_groups(
    rng: np.random.Generator, n_serve: int, city_list: Sequence[City], eix: _Eligibilities
) -> _Groups:
    """Serving demands: a city (or two, which may split by region), an RTT budget, a model
    size class with its unit sizes and acceptable types, replicas, and for some a price cap.
    One joint alternative each, plus a split one (one group per city) for two-city demands;
    demand positions here are 0..n_serve-1."""
    pop = np.array([c.population_m for c in city_list])
    tix = {t: i for i, t in enumerate(TYPES)}
    ref = reference_prices()
    size_cls = rng.integers(0, len(SERVE_SETS), n_serve)
    set_pick = rng.integers(0, 3, n_serve)
    k_pick = rng.integers(0, 2, n_serve)
    two = rng.random(n_serve) < 0.15
    c1 = rng.choice(len(city_list), n_serve, p=pop / pop.sum())
    c2 = (c1 + 1) % len(city_list)  # a neighbouring demand centre in file order
    budget = rng.integers(0, len(BUDGETS_MS), n_serve)
    capped = rng.random(n_serve) < 0.3
    replicas = rng.integers(1, 5, n_serve)
    serve_k = np.zeros(n_serve, dtype=np.int64)
    for i, (ks, _sets) in enumerate(SERVE_SETS):
        sel = size_cls == i
        serve_k[sel] = np.asarray(ks)[k_pick[sel] % len(ks)]
    type_sets = [
        tuple(sorted(tix[t] for t in sets[j % len(sets)]))
        for _ks, sets in SERVE_SETS
        for j in range(3)
    ]
    costliest = np.array([max(ref[TYPES[t]] for t in ts) for ts in type_sets])

    def serve_elig(regions: tuple[int, ...], b: int, s: int, lim: float) -> int:
        return eix(
            Eligibility(
                types=type_sets[s],
                regions=regions,
                budgets_ms=tuple(BUDGETS_MS[b] for _ in regions),
                max_price=lim,
                end_h=1.0,
            )
        )

    # one eligibility per distinct (cities, budget, type set, cap), joint and per region
    combo = np.stack([c1, np.where(two, c2, -1), budget, size_cls * 3 + set_pick, capped], axis=1)
    uniq, inv = np.unique(combo, axis=0, return_inverse=True)
    inv = inv.ravel()
    joint_e = np.empty(len(uniq), dtype=np.int64)
    split1_e = np.full(len(uniq), -1, dtype=np.int64)
    split2_e = np.full(len(uniq), -1, dtype=np.int64)
    for u, (a, b2, bud, s, cap) in enumerate(uniq.tolist()):
        lim = round(float(costliest[s]) * 1.2, 2) if cap else math.inf
        regions = (a,) if b2 < 0 else (a, b2)
        joint_e[u] = serve_elig(regions, bud, s, lim)
        if b2 >= 0:
            split1_e[u] = serve_elig((a,), bud, s, lim)
            split2_e[u] = serve_elig((b2,), bud, s, lim)

    share1 = np.maximum(1, np.ceil(replicas * 0.5)).astype(np.int64)
    splits = np.flatnonzero(two)
    a_split = n_serve + np.arange(len(splits))
    return _Groups(
        alt_demand=np.concatenate([np.arange(n_serve), splits]).astype(np.int64),
        alt_split=np.concatenate([np.zeros(n_serve, bool), np.ones(len(splits), bool)]),
        group_alt=np.concatenate([np.arange(n_serve), a_split, a_split]).astype(np.int64),
        group_units=np.concatenate([replicas, share1[splits], share1[splits]]).astype(np.int64),
        group_k=np.concatenate([serve_k, serve_k[splits], serve_k[splits]]).astype(np.int64),
        group_elig=np.concatenate(
            [joint_e[inv], split1_e[inv[splits]], split2_e[inv[splits]]]
        ).astype(np.int64),
    )


def _job_groups(
    rng: np.random.Generator, n_gang: int, n_batch: int, eix: _Eligibilities
) -> _Groups:
    """Gang jobs (one unit of 8-64 GPUs of a training type pair) then batch jobs (1-16 units
    of one GPU, interruptible welcome); demand positions here are 0..n_gang+n_batch-1."""
    tix = {t: i for i, t in enumerate(TYPES)}
    gang_k = np.asarray((8, 16, 32, 64))[rng.integers(0, 4, n_gang)]
    gang_set = rng.integers(0, len(GANG_SETS), n_gang)
    gang_e = [
        eix(Eligibility(types=tuple(sorted(tix[t] for t in s)), end_h=1.0)) for s in GANG_SETS
    ]
    batch_gpus = rng.integers(1, 17, n_batch)
    batch_set = rng.integers(0, len(BATCH_SETS), n_batch)
    batch_e = [
        eix(
            Eligibility(types=tuple(sorted(tix[t] for t in s)), end_h=1.0, allow_interruptible=True)
        )
        for s in BATCH_SETS
    ]
    n = n_gang + n_batch
    return _Groups(
        alt_demand=np.arange(n, dtype=np.int64),
        alt_split=np.zeros(n, bool),
        group_alt=np.arange(n, dtype=np.int64),
        group_units=np.concatenate([np.ones(n_gang, np.int64), batch_gpus]).astype(np.int64),
        group_k=np.concatenate([gang_k, np.ones(n_batch, np.int64)]).astype(np.int64),
        group_elig=np.concatenate(
            [np.asarray(gang_e)[gang_set], np.asarray(batch_e)[batch_set]]
        ).astype(np.int64),
    )


def _in_arrival_order(
    rng: np.random.Generator, serving: _Groups, jobs: _Groups, n_gang: int
) -> tuple[_Groups, npt.NDArray[np.int8]]:
    """Serving, gang and batch demands shuffled into a random arrival order; alternatives
    sorted by demand (joint before split), groups by alternative. Returns the groups and
    each demand's kind."""
    n_serve = int(np.count_nonzero(~serving.alt_split))
    n_batch = len(jobs.alt_demand) - n_gang
    n_requests = n_serve + n_gang + n_batch
    kind = np.concatenate(
        [np.full(n_serve, KIND_SERVE), np.full(n_gang, KIND_GANG), np.full(n_batch, KIND_BATCH)]
    ).astype(np.int8)
    perm = rng.permutation(n_requests)  # new position of each demand
    alt_d = np.concatenate([perm[:n_serve][serving.alt_demand], perm[n_serve:][jobs.alt_demand]])
    alt_split = np.concatenate([serving.alt_split, jobs.alt_split])
    g_alt = np.concatenate([serving.group_alt, len(serving.alt_demand) + jobs.group_alt])
    alt_order = np.lexsort((alt_split, alt_d))
    new_alt = np.empty(len(alt_d), dtype=np.int64)
    new_alt[alt_order] = np.arange(len(alt_d))
    g_alt = new_alt[g_alt]
    g_order = np.argsort(g_alt, kind="stable")
    d_kind = np.empty(n_requests, dtype=np.int8)
    d_kind[perm] = kind
    groups = _Groups(
        alt_demand=alt_d[alt_order].astype(np.int64),
        alt_split=alt_split[alt_order],
        group_alt=g_alt[g_order],
        group_units=np.concatenate([serving.group_units, jobs.group_units])[g_order],
        group_k=np.concatenate([serving.group_k, jobs.group_k])[g_order],
        group_elig=np.concatenate([serving.group_elig, jobs.group_elig])[g_order],
    )
    return groups, d_kind


def _problem(
    rng: np.random.Generator,
    sites: list[_Point],
    city_list: Sequence[City],
    rtt: FloatArray,
    offers: _Offers,
    groups: _Groups,
    kinds: npt.NDArray[np.int8],
    eligibilities: _Eligibilities,
) -> Problem:
    """The instance as a :class:`Problem`, 10% of offers interruptible, capacity unlimited
    for now (:func:`_with_capacity` sets it)."""
    gpus = [gpu(t) for t in TYPES]
    n_o = len(offers.type)
    penalty = 100.0 * (float(offers.price.max()) + 1.0)
    return Problem(
        site_ids=tuple(s.id for s in sites),
        type_names=TYPES,
        city_ids=tuple(c.id for c in city_list),
        fabric_names=("nvlink-ib", "pcie-eth"),
        rtt_ms=rtt,
        type_interconnect_gb_s=np.array([g.interconnect_gb_s for g in gpus]),
        type_memory_gb=np.array([g.memory_gb for g in gpus]),
        offer_ids=ids("offer", n_o),
        offer_site=offers.site,
        offer_type=offers.type,
        offer_cap=np.full(n_o, 1 << 40, dtype=np.int64),
        offer_node=np.full(n_o, 8, dtype=np.int64),
        offer_price=offers.price,
        offer_cost=offers.price.copy(),
        offer_start=np.zeros(n_o),
        offer_end=np.full(n_o, math.inf),
        offer_interruptible=rng.random(n_o) < 0.1,
        offer_fabric=offers.fabric,
        demand_ids=ids("req", len(kinds)),
        demand_kind=kinds,
        alt_demand=groups.alt_demand,
        alt_option=np.zeros(len(groups.alt_demand), dtype=np.int64),
        alt_split=groups.alt_split,
        group_alt=groups.group_alt,
        group_units=groups.group_units,
        group_k=groups.group_k,
        group_elig=groups.group_elig,
        eligibilities=tuple(eligibilities.index),
        objective="cost",
        penalty_per_gpu=penalty,
        penalty_per_demand=penalty * 64,
    )


def _with_capacity(rng: np.random.Generator, problem: Problem, load: float) -> Problem:
    """Capacity: each (eligibility, unit size)'s GPUs spread evenly over the offers that
    accept it, with noise, divided by ``load``, in whole 8-GPU nodes."""
    n_o = problem.n_offers
    attraction = np.zeros(n_o)
    key = problem.group_elig * 128 + problem.group_k
    uniq, inv = np.unique(key, return_inverse=True)
    demand_gpus = np.bincount(inv.ravel(), weights=problem.group_units * problem.group_k)
    for j, kk in enumerate(uniq.tolist()):
        ok = problem.mask(kk // 128, kk % 128)
        if ok.any():
            attraction[ok] += demand_gpus[j] / ok.sum()
    noise = rng.lognormal(0.0, 0.3, n_o)
    cap = (np.floor(attraction * noise / load / 8.0 + rng.random(n_o)) * 8).astype(np.int64)
    return replace(problem, offer_cap=cap, _cache={})
