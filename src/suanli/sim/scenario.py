"""The scenario model: sites with GPU inventories and asks, demand, market and buyer behaviour.

A :class:`Scenario` is plain data; :func:`suanli.sim.loader.load_scenario` builds one from
YAML (the built-in ``china-2025`` or a file) and :func:`validate` checks it against the
catalogs, naming the item and field of any error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """How one replica of a served model behaves on one GPU type.

    ``prefill_ms`` and ``step_ms`` are tables: prefill time for the prompt lengths in
    ``prompt_grid`` and decode step time for the batch sizes in ``batch_grid`` (linear
    interpolation between points). ``max_batch`` is the largest batch whose step time meets
    the TPOT target; ``rps`` the requests/s one replica sustains at that batch.
    """

    gpu: str
    gpus_per_replica: int
    max_batch: int
    rps: float
    prompt_grid: tuple[float, ...]
    prefill_ms: tuple[float, ...]
    batch_grid: tuple[float, ...]
    step_ms: tuple[float, ...]
    source: str = "suanli.perf"


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A site's GPUs for this scenario.

    ``base_load`` is the fraction of each GPU type held by existing long-term tenants
    outside the simulated market (the same under every policy).
    """

    id: str
    inventory: Mapping[str, int]
    ask_cny_per_gpu_hour: Mapping[str, float]
    base_load: float = 0.0


@dataclass(frozen=True, slots=True)
class Workload:
    """A served model: its traffic (a trace's token lengths, a daily volume) and SLOs.

    ``requests_per_day`` counts simulated requests over all cities; each stands for
    ``Scenario.request_scale`` real ones when sizing capacity and counting tokens.
    """

    name: str
    model: str
    trace: str
    requests_per_day: float
    ttft_p95_ms: float
    tpot_p95_ms: float
    precision: str = "bf16"
    max_price_cny_per_gpu_hour: float = 40.0
    profiles: Mapping[str, ServiceProfile] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """Batch-inference jobs: work in H100-equivalent GPU-hours, due by a deadline."""

    jobs_per_day: float = 0.0
    gpu_hours_mean: float = 200.0
    max_gpus: int = 64
    deadline_h: float = 48.0
    min_memory_gb: float = 40.0
    max_price_cny_per_gpu_hour: float = 15.0


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """Training jobs: a gang of GPUs with a fast fabric at one site for some hours."""

    jobs_per_day: float = 0.0
    gang_sizes: tuple[int, ...] = (64, 128, 256)
    hours_mean: float = 72.0
    gpu_types: tuple[str, ...] = ("H100-SXM", "H800-SXM", "A800-SXM-80GB")
    max_price_cny_per_gpu_hour: float = 30.0


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """How asks move: once a day, ``ask *= exp(elasticity * (utilization - target))``,
    kept between ``floor`` and ``cap`` times the starting ask."""

    target_utilization: float = 0.7
    price_elasticity_per_day: float = 0.05
    price_floor_fraction: float = 0.5
    price_cap_fraction: float = 2.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a simulation run needs besides the policy, the length and the seed."""

    name: str
    description: str
    sites: tuple[SiteSpec, ...]
    cities: Mapping[str, float]
    workloads: tuple[Workload, ...]
    batch: BatchSpec = field(default_factory=BatchSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    market: MarketSpec = field(default_factory=MarketSpec)
    request_scale: float = 1.0
    diurnal_peak_hour: float = 21.0
    diurnal_trough_fraction: float = 0.3
    comfort_rtt_ms: float = 6.0
    headroom: float = 0.15
    sources: tuple[str, ...] = ()

    @property
    def gpu_types(self) -> tuple[str, ...]:
        """Every GPU type some site holds, in first-seen order."""
        seen: dict[str, None] = {}
        for s in self.sites:
            for g in s.inventory:
                seen.setdefault(g, None)
        return tuple(seen)
