"""The scenario turned into arrays: sites x GPU types, cities x sites, workloads x GPU types.

Indices: ``s`` site, ``g`` GPU type, ``c`` city, ``w`` workload. Built once per run; every
policy then works on the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanli import catalog
from suanli.geo import LatencyModel, rtt_matrix
from suanli.sim.profiles import ServiceProfile
from suanli.sim.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

H100_BF16_TFLOPS = 989.0
H100_HBM_TB_S = 3.35


@dataclass(frozen=True, slots=True, eq=False)
class World:
    """Arrays every policy and the event loop share."""

    scenario: Scenario
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    regions: tuple[str, ...]  # per site: hub name, or "metro"/"central"
    region_of_site: IntArray  # index into ``region_names``
    region_names: tuple[str, ...]
    site_lat: FloatArray
    site_lon: FloatArray
    west: BoolArray  # per site: a western hub cluster
    gpu_types: tuple[str, ...]
    cities: tuple[str, ...]
    city_lat: FloatArray
    city_lon: FloatArray
    inventory: IntArray  # [S, G]
    base: IntArray  # [S, G] held by existing tenants
    ask0: FloatArray  # [S, G] starting ask, CNY per GPU-hour
    reference_price: FloatArray  # [G]
    rtt_ms: FloatArray  # [C, S]
    profiles: tuple[dict[str, ServiceProfile], ...]  # per workload
    gpus_per_replica: IntArray  # [W, G], 0 where the type cannot serve the workload
    rps: FloatArray  # [W, G] planned requests/s per replica (sizing's headroom)
    prefill_mean_s: FloatArray  # [W, G]
    rtt_budget_ms: FloatArray  # [W, G] (-1 where the type cannot serve the workload)
    speed: FloatArray  # [G] batch throughput relative to an H100
    batch_ok: BoolArray  # [G]
    train_ok: BoolArray  # [G]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(cities, workloads, sites, GPU types)."""
        return (len(self.cities), len(self.profiles), len(self.site_ids), len(self.gpu_types))


def build_world(
    scenario: Scenario, profiles: list[dict[str, ServiceProfile]] | None = None
) -> World:
    """Arrays for ``scenario``; ``profiles`` default to the performance model's."""
    gpu_types = scenario.gpu_types
    sites = [catalog.site(s.id) for s in scenario.sites]
    cities = [catalog.city(c) for c in scenario.cities]
    rtt = rtt_matrix(cities, sites, LatencyModel(route_factor=scenario.route_factor))
    if profiles is None:
        from suanli.sim.profiles import build_profiles

        reach = float(np.ceil(rtt.max())) if rtt.size else 0.0
        profiles = build_profiles(scenario.workloads, gpu_types, scenario.headroom, reach)
    n_s, n_g, n_w = len(sites), len(gpu_types), len(scenario.workloads)
    inventory = np.zeros((n_s, n_g), dtype=np.int64)
    ask0 = np.zeros((n_s, n_g))
    base = np.zeros((n_s, n_g), dtype=np.int64)
    for i, spec in enumerate(scenario.sites):
        for j, g in enumerate(gpu_types):
            count = spec.inventory.get(g, 0)
            inventory[i, j] = count
            base[i, j] = round(count * spec.base_load)
            ask0[i, j] = spec.ask_cny_per_gpu_hour.get(g, 0.0)
    refs = catalog.reference_prices()
    reference = np.array([_reference(refs, g, ask0[:, j]) for j, g in enumerate(gpu_types)])
    k = np.zeros((n_w, n_g), dtype=np.int64)
    rps = np.zeros((n_w, n_g))
    prefill_mean = np.zeros((n_w, n_g))
    budget = np.full((n_w, n_g), -1.0)
    for w, by_gpu in enumerate(profiles):
        for j, g in enumerate(gpu_types):
            p = by_gpu.get(g)
            if p is None:
                continue
            k[w, j] = p.gpus_per_replica
            rps[w, j] = p.rps
            prefill_mean[w, j] = p.prefill_mean_ms / 1000
            budget[w, j] = p.rtt_budget_ms
    gpu_rows = [catalog.gpu(g) for g in gpu_types]
    speed = np.array(
        [
            0.5 * r.bf16_tflops / H100_BF16_TFLOPS + 0.5 * r.hbm_tb_s / H100_HBM_TB_S
            for r in gpu_rows
        ]
    )
    region_names = tuple(dict.fromkeys(s.region for s in sites))
    return World(
        scenario=scenario,
        site_ids=tuple(s.id for s in sites),
        site_names=tuple(s.name for s in sites),
        regions=tuple(s.region for s in sites),
        region_of_site=np.array([region_names.index(s.region) for s in sites], dtype=np.int64),
        region_names=region_names,
        site_lat=np.array([s.lat for s in sites]),
        site_lon=np.array([s.lon for s in sites]),
        west=np.array([s.role == "west" for s in sites]),
        gpu_types=gpu_types,
        cities=tuple(c.id for c in cities),
        city_lat=np.array([c.lat for c in cities]),
        city_lon=np.array([c.lon for c in cities]),
        inventory=inventory,
        base=base,
        ask0=ask0,
        reference_price=reference,
        rtt_ms=rtt,
        profiles=tuple(profiles),
        gpus_per_replica=k,
        rps=rps,
        prefill_mean_s=prefill_mean,
        rtt_budget_ms=budget,
        speed=speed,
        batch_ok=np.array([r.memory_gb >= scenario.batch.min_memory_gb for r in gpu_rows]),
        train_ok=np.array([g in scenario.training.gpu_types for g in gpu_types]),
    )


def _reference(refs: dict[str, float], gpu: str, asks: FloatArray) -> float:
    """The catalog reference price of a GPU, else the mean of the scenario's asks for it."""
    if gpu in refs:
        return refs[gpu]
    listed = asks[asks > 0]
    return float(listed.mean()) if listed.size else 0.0
