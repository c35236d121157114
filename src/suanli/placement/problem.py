"""The placement problem as arrays.

Every demand becomes one or more *alternatives* (which serving option, joint or split by
region); every alternative is one or more *groups*: ``units`` identical units of ``k`` GPUs
that share an *eligibility* (acceptable GPU types, the regions they serve with their RTT
budgets, price limit, time window, fabric, memory). Gangs are one unit of ``gpus``; batch jobs
are ``gpus`` units of one GPU; a serving alternative has one group per served region set.

Solvers work on these arrays; eligibilities are few (they do not grow with the number of
demands), so offer masks are computed once per (eligibility, unit size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from suanli.placement.model import INF, REASONS, parse_fabric

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Objective = Literal["cost", "placed"]
KIND_SERVE, KIND_GANG, KIND_BATCH = 0, 1, 2
KIND_NAMES = ("serve", "gang", "batch")


@dataclass(frozen=True, slots=True)
class Eligibility:
    """What a unit accepts: types (indices), regions (city indices) with RTT budgets, etc."""

    types: tuple[int, ...]
    regions: tuple[int, ...] = ()
    budgets_ms: tuple[float, ...] = ()
    max_price: float = INF
    start_h: float = 0.0
    end_h: float = 0.0
    min_interconnect_gb_s: float = 0.0
    min_memory_gb: float = 0.0
    allow_interruptible: bool = False
    fabrics: tuple[str, ...] = ()


class _Ids(Sequence[str]):
    """Ids ``prefix0 .. prefix{n-1}`` without building n strings."""

    def __init__(self, prefix: str, n: int) -> None:
        self.prefix, self.n = prefix, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if isinstance(i, slice):
            return [f"{self.prefix}{j}" for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        return f"{self.prefix}{i}"

    def index_of(self, key: str) -> int:
        if key.startswith(self.prefix) and key[len(self.prefix) :].isdigit():
            i = int(key[len(self.prefix) :])
            if i < self.n:
                return i
        raise KeyError(key)


def ids(prefix: str, n: int) -> Sequence[str]:
    """Lazy ids for generated instances."""
    return _Ids(prefix, n)


@dataclass(frozen=True, slots=True, eq=False)
class Problem:
    """Offers, demands, alternatives and groups as arrays (see module docstring)."""

    # catalog-like tables
    site_ids: tuple[str, ...]
    type_names: tuple[str, ...]
    city_ids: tuple[str, ...]
    fabric_names: tuple[str, ...]
    rtt_ms: FloatArray  # (cities, sites)
    type_interconnect_gb_s: FloatArray  # (types,)
    type_memory_gb: FloatArray  # (types,)
    # offers
    offer_ids: Sequence[str]
    offer_site: IntArray
    offer_type: IntArray
    offer_cap: IntArray
    offer_node: IntArray
    offer_price: FloatArray  # listed CNY per GPU-hour
    offer_cost: FloatArray  # objective CNY per GPU-hour (price plus weighted power cost)
    offer_start: FloatArray
    offer_end: FloatArray
    offer_interruptible: BoolArray
    offer_fabric: IntArray
    # demands
    demand_ids: Sequence[str]
    demand_kind: npt.NDArray[np.int8]
    # alternatives (sorted by demand)
    alt_demand: IntArray
    alt_option: IntArray  # which option of the demand (serving), else 0
    alt_split: BoolArray
    # groups (sorted by alternative)
    group_alt: IntArray
    group_units: IntArray
    group_k: IntArray
    group_elig: IntArray
    eligibilities: tuple[Eligibility, ...]
    objective: Objective = "cost"
    penalty_per_gpu: float = 0.0  # objective penalty per unplaced GPU ("cost")
    penalty_per_demand: float = 0.0  # objective penalty per unplaced demand ("placed")
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @property
    def n_offers(self) -> int:
        return len(self.offer_cap)

    @property
    def n_demands(self) -> int:
        return len(self.demand_kind)

    def alt_range(self) -> IntArray:
        """Start index of each demand's alternatives (length n_demands + 1)."""
        return np.searchsorted(self.alt_demand, np.arange(self.n_demands + 1)).astype(np.int64)

    def group_range(self) -> IntArray:
        """Start index of each alternative's groups (length n_alts + 1)."""
        n_alts = len(self.alt_demand)
        return np.searchsorted(self.group_alt, np.arange(n_alts + 1)).astype(np.int64)

    def alt_gpus(self) -> IntArray:
        """GPUs each alternative needs (units x k summed over its groups)."""
        out = np.zeros(len(self.alt_demand), dtype=np.int64)
        np.add.at(out, self.group_alt, self.group_units * self.group_k)
        return out

    def demand_min_gpus(self) -> IntArray:
        """Fewest GPUs over each demand's alternatives."""
        out = np.full(self.n_demands, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, self.alt_demand, self.alt_gpus())
        return out

    def unplaced_penalty(self) -> FloatArray:
        """Objective penalty of leaving each demand unplaced."""
        if self.objective == "placed":
            return np.full(self.n_demands, self.penalty_per_demand)
        out: FloatArray = self.demand_min_gpus().astype(np.float64) * self.penalty_per_gpu
        return out

    def footprint(self, k: IntArray | int, node: IntArray | int) -> IntArray:
        """GPUs a unit of k takes in an offer with nodes of ``node`` GPUs: k when it packs
        into a node evenly, else whole nodes."""
        k_arr = np.asarray(k, dtype=np.int64)
        node_arr = np.asarray(node, dtype=np.int64)
        fits = (k_arr <= node_arr) & (node_arr % np.maximum(k_arr, 1) == 0)
        whole = -(-k_arr // node_arr) * node_arr
        out: IntArray = np.where(fits, k_arr, whole)
        return out

    def reasons(self, elig: int, k: int) -> npt.NDArray[np.int8]:
        """Per offer, the first reason (index into REASONS) it cannot take a unit of k GPUs
        with eligibility ``elig``; 0 where it can. Cached per (eligibility, k)."""
        key = ("reasons", elig, k)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._reasons(self.eligibilities[elig], k)
            self._cache[key] = cached
        result: npt.NDArray[np.int8] = cached
        return result

    def _reasons(self, e: Eligibility, k: int) -> npt.NDArray[np.int8]:
        out = np.zeros(self.n_offers, dtype=np.int8)

        def mark(bad: BoolArray, reason: str) -> None:
            out[(out == 0) & bad] = REASONS.index(reason)

        t = self.offer_type
        mark(~np.isin(t, np.asarray(e.types, dtype=np.int64)), "gpu_type")
        mark(self.type_memory_gb[t] < e.min_memory_gb, "memory")
        mark((self.offer_start > e.start_h) | (self.offer_end < e.end_h), "window")
        if not e.allow_interruptible:
            mark(self.offer_interruptible, "interruptible")
        bad_fabric = self.type_interconnect_gb_s[t] < e.min_interconnect_gb_s
        fabrics = [parse_fabric(f) for f in self.fabric_names]
        if e.fabrics:
            allowed = [i for i, f in enumerate(fabrics) if any(f.matches(w) for w in e.fabrics)]
            bad_fabric |= ~np.isin(self.offer_fabric, np.asarray(allowed, dtype=np.int64))
        multi_node = k > self.offer_node
        if np.any(multi_node):
            rdma = np.array([f.rdma for f in fabrics], dtype=bool)
            bad_fabric |= multi_node & ~rdma[self.offer_fabric]
        mark(bad_fabric, "fabric")
        mark(self.offer_price > e.max_price + 1e-9, "price")
        if e.regions:
            rtt = self.rtt_ms[np.asarray(e.regions)][:, self.offer_site]
            over = np.any(rtt > np.asarray(e.budgets_ms)[:, None] + 1e-9, axis=0)
            mark(over, "latency")
        mark(self.footprint(k, self.offer_node) > self.offer_cap, "capacity")
        return out

    def _factor(self, key: tuple[Any, ...], compute: Any) -> BoolArray:
        cached = self._cache.get(key)
        if cached is None:
            cached = compute()
            self._cache[key] = cached
        result: BoolArray = cached
        return result

    def mask(self, elig: int, k: int, *, any_type: bool = False) -> BoolArray:
        """Offers that can take a unit of k GPUs with this eligibility (same checks as
        :meth:`reasons`, built from cached factors: latency, price, the rest); with
        ``any_type`` the GPU-type check is left out."""
        key = ("mask", elig, k, any_type)
        cached = self._cache.get(key)
        if cached is not None:
            result: BoolArray = cached
            return result
        e = self.eligibilities[elig]
        types = self._factor(
            ("types", e.types), lambda: np.isin(self.offer_type, np.asarray(e.types, np.int64))
        )
        latency = self._factor(("lat", e.regions, e.budgets_ms), lambda: self._latency_ok(e))
        price = self._factor(("price", e.max_price), lambda: self.offer_price <= e.max_price + 1e-9)
        rest_key = (
            "rest",
            e.start_h,
            e.end_h,
            e.allow_interruptible,
            e.fabrics,
            e.min_interconnect_gb_s,
            e.min_memory_gb,
            k,
        )
        rest = self._factor(rest_key, lambda: self.reasons_rest(e, k) == 0)
        out: BoolArray = latency & price & rest
        if not any_type:
            out = out & types
        self._cache[key] = out
        return out

    def _latency_ok(self, e: Eligibility) -> BoolArray:
        if not e.regions:
            return np.ones(self.n_offers, dtype=bool)
        rtt = self.rtt_ms[np.asarray(e.regions)][:, self.offer_site]
        ok: BoolArray = np.all(rtt <= np.asarray(e.budgets_ms)[:, None] + 1e-9, axis=0)
        return ok

    def reasons_rest(self, e: Eligibility, k: int) -> npt.NDArray[np.int8]:
        """Reasons other than GPU type, price and latency (memory, window, fabric, size)."""
        rest = Eligibility(
            types=tuple(range(len(self.type_names))),
            start_h=e.start_h,
            end_h=e.end_h,
            min_interconnect_gb_s=e.min_interconnect_gb_s,
            min_memory_gb=e.min_memory_gb,
            allow_interruptible=e.allow_interruptible,
            fabrics=e.fabrics,
        )
        return self._reasons(rest, k)


def split_replicas(replicas: int, weights: Sequence[float]) -> list[int]:
    """Replicas per region when split by traffic: ``ceil(replicas x share)``, at least one."""
    total = float(sum(weights))
    return [max(1, math.ceil(replicas * w / total - 1e-9)) for w in weights]
