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
from dataclasses import dataclass, replace

import numpy as np

from suanli import catalog
from suanli.catalog import cities, gpu, reference_prices
from suanli.geo import LatencyModel, rtt_matrix
from suanli.placement.problem import (
    KIND_BATCH,
    KIND_GANG,
    KIND_SERVE,
    Eligibility,
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
    ``china`` the sites are the built-in catalog's (``n_sites`` is ignored)."""
    rng = np.random.default_rng(seed)
    city_list = cities()
    pop = np.array([c.population_m for c in city_list])
    n_types = len(TYPES)
    tix = {t: i for i, t in enumerate(TYPES)}
    ref = reference_prices()
    gpus = [gpu(t) for t in TYPES]

    # sites and latency
    if china:
        catalog_sites = catalog.sites()
        n_sites = len(catalog_sites)
        sites = [_Point(x.id, x.lat, x.lon) for x in catalog_sites]
        west = np.array([x.role == "west" for x in catalog_sites])
    else:
        lat = rng.uniform(22.0, 41.0, n_sites)
        lon = rng.uniform(102.0, 122.0, n_sites)
        west = lon < 109.0
        sites = [_Point(f"site{i}", float(lat[i]), float(lon[i])) for i in range(n_sites)]
    rtt = rtt_matrix(list(city_list), sites, LatencyModel())

    # offers: types_per_site distinct types per site
    per = min(types_per_site, n_types)
    keys = rng.random((n_sites, n_types))
    o_type = np.argsort(keys, axis=1)[:, :per].ravel().astype(np.int64)
    o_site = np.repeat(np.arange(n_sites), per).astype(np.int64)
    n_o = len(o_type)
    base = np.array([ref[t] for t in TYPES])[o_type]
    price = np.round(base * rng.lognormal(0.0, 0.12, n_o) * np.where(west[o_site], 0.85, 1.0), 2)
    fabric = np.array([0 if gpus[t].has_nvlink else 1 for t in range(n_types)])[o_type]

    # demands
    n_serve = round(n_requests * 0.80)
    n_gang = round(n_requests * 0.15)
    n_batch = n_requests - n_serve - n_gang
    eligs: dict[Eligibility, int] = {}

    def eix(e: Eligibility) -> int:
        return eligs.setdefault(e, len(eligs))

    # serving: choose city(s), budget, size class, type set, unit size, replicas
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
        for ks, sets in SERVE_SETS
        for j in range(3)
    ]
    serve_set_ix = size_cls * 3 + set_pick
    serve_set = type_sets  # index table
    cheapest = np.array([max(ref[TYPES[t]] for t in ts) for ts in serve_set])

    # eligibility per serving demand (joint), and per region for split
    def serve_elig(regions: tuple[int, ...], b: int, s: int, lim: float) -> int:
        return eix(
            Eligibility(
                types=serve_set[s],
                regions=regions,
                budgets_ms=tuple(BUDGETS_MS[b] for _ in regions),
                max_price=lim,
                end_h=1.0,
            )
        )

    combo = np.stack([c1, np.where(two, c2, -1), budget, serve_set_ix, capped], axis=1)
    uniq, inv = np.unique(combo, axis=0, return_inverse=True)
    inv = inv.ravel()
    joint_e = np.empty(len(uniq), dtype=np.int64)
    split1_e = np.full(len(uniq), -1, dtype=np.int64)
    split2_e = np.full(len(uniq), -1, dtype=np.int64)
    for u, (a, b2, bud, s, cap) in enumerate(uniq.tolist()):
        lim = round(float(cheapest[s]) * 1.2, 2) if cap else math.inf
        regions = (a,) if b2 < 0 else (a, b2)
        joint_e[u] = serve_elig(regions, bud, s, lim)
        if b2 >= 0:
            split1_e[u] = serve_elig((a,), bud, s, lim)
            split2_e[u] = serve_elig((b2,), bud, s, lim)

    # gang and batch eligibilities
    gang_k = np.asarray((8, 16, 32, 64))[rng.integers(0, 4, n_gang)]
    gang_set = rng.integers(0, len(GANG_SETS), n_gang)
    gang_e_table = [
        eix(Eligibility(types=tuple(sorted(tix[t] for t in s)), end_h=1.0)) for s in GANG_SETS
    ]
    batch_gpus = rng.integers(1, 17, n_batch)
    batch_set = rng.integers(0, len(BATCH_SETS), n_batch)
    batch_e_table = [
        eix(
            Eligibility(types=tuple(sorted(tix[t] for t in s)), end_h=1.0, allow_interruptible=True)
        )
        for s in BATCH_SETS
    ]

    # alternatives and groups, demands in a random arrival order
    kind = np.concatenate(
        [np.full(n_serve, KIND_SERVE), np.full(n_gang, KIND_GANG), np.full(n_batch, KIND_BATCH)]
    ).astype(np.int8)
    perm = rng.permutation(n_requests)  # new position of each demand
    pos_serve, pos_gang, pos_batch = (
        perm[:n_serve],
        perm[n_serve : n_serve + n_gang],
        perm[n_serve + n_gang :],
    )
    share1 = np.maximum(1, np.ceil(replicas * 0.5)).astype(np.int64)
    splits = np.flatnonzero(two)
    # alternative rows: (demand position, split flag); group rows: (alt row, units, k, elig)
    alt_d = np.concatenate([pos_serve, pos_serve[splits], pos_gang, pos_batch])
    alt_split = np.concatenate(
        [np.zeros(n_serve, bool), np.ones(len(splits), bool), np.zeros(n_gang + n_batch, bool)]
    )
    n_alt = len(alt_d)
    a_serve = np.arange(n_serve)
    a_split = n_serve + np.arange(len(splits))
    a_gang = n_serve + len(splits) + np.arange(n_gang)
    a_batch = n_serve + len(splits) + n_gang + np.arange(n_batch)
    g_alt = np.concatenate([a_serve, a_split, a_split, a_gang, a_batch])
    g_units = np.concatenate(
        [replicas, share1[splits], share1[splits], np.ones(n_gang, np.int64), batch_gpus]
    ).astype(np.int64)
    g_k = np.concatenate(
        [serve_k, serve_k[splits], serve_k[splits], gang_k, np.ones(n_batch, np.int64)]
    ).astype(np.int64)
    g_e = np.concatenate(
        [
            joint_e[inv],
            split1_e[inv[splits]],
            split2_e[inv[splits]],
            np.asarray(gang_e_table)[gang_set],
            np.asarray(batch_e_table)[batch_set],
        ]
    ).astype(np.int64)
    alt_order = np.lexsort((alt_split, alt_d))
    new_alt = np.empty(n_alt, dtype=np.int64)
    new_alt[alt_order] = np.arange(n_alt)
    g_alt = new_alt[g_alt]
    g_order = np.argsort(g_alt, kind="stable")
    d_kind = np.empty(n_requests, dtype=np.int8)
    d_kind[perm] = kind

    # capacity: each unit key's GPUs spread evenly over the offers it accepts, / load
    cap = np.full(n_o, 1 << 40, dtype=np.int64)
    problem = Problem(
        site_ids=tuple(s.id for s in sites),
        type_names=TYPES,
        city_ids=tuple(c.id for c in city_list),
        fabric_names=("nvlink-ib", "pcie-eth"),
        rtt_ms=rtt,
        type_interconnect_gb_s=np.array([g.interconnect_gb_s for g in gpus]),
        type_memory_gb=np.array([g.memory_gb for g in gpus]),
        offer_ids=ids("offer", n_o),
        offer_site=o_site,
        offer_type=o_type,
        offer_cap=cap,
        offer_node=np.full(n_o, 8, dtype=np.int64),
        offer_price=price,
        offer_cost=price.copy(),
        offer_start=np.zeros(n_o),
        offer_end=np.full(n_o, math.inf),
        offer_interruptible=rng.random(n_o) < 0.1,
        offer_fabric=fabric.astype(np.int64),
        demand_ids=ids("req", n_requests),
        demand_kind=d_kind,
        alt_demand=alt_d[alt_order].astype(np.int64),
        alt_option=np.zeros(n_alt, dtype=np.int64),
        alt_split=alt_split[alt_order],
        group_alt=g_alt[g_order],
        group_units=g_units[g_order],
        group_k=g_k[g_order],
        group_elig=g_e[g_order],
        eligibilities=tuple(eligs),
        objective="cost",
        penalty_per_gpu=100.0 * (float(price.max()) + 1.0),
        penalty_per_demand=100.0 * (float(price.max()) + 1.0) * 64,
    )
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
