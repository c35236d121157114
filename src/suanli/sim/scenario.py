"""The scenario model: sites with GPU inventories and asks, demand, market and buyer behaviour.

A :class:`Scenario` is plain data; :func:`suanli.sim.loader.load_scenario` builds one from
YAML (the built-in ``china-2025`` or a file) and :func:`validate` checks it against the
catalogs, naming the item and field of any error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GivenProfile:
    """A replica a scenario states instead of sizing it: linear prefill and decode-step times.

    ``rps`` is the replica's capacity (its batch full); 0 derives it from the times.
    """

    gpu: str
    gpus_per_replica: int
    max_batch: int
    rps: float
    prefill_ms_per_1k_tokens: float
    prefill_fixed_ms: float
    step_ms_at_batch_1: float
    step_ms_per_sequence: float
    source: str = "given"


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
    source: str = ""


@dataclass(frozen=True, slots=True)
class ServedWorkload:
    """A served model: its traffic (a trace's token lengths, a daily volume) and SLOs.

    ``requests_per_day`` counts simulated requests over all cities; each stands for
    ``Scenario.request_scale`` real ones when sizing capacity and counting tokens. An agent
    class makes ``calls_per_task`` sequential calls per task (one simulated request is one
    task), each paying the network round trip, and has a task-level target ``task_p95_ms``.
    ``source`` says where the volume comes from (or why it is an estimate).
    """

    name: str
    model: str
    trace: str
    requests_per_day: float
    ttft_p95_ms: float
    tpot_p95_ms: float
    precision: str = "bf16"
    max_price_cny_per_gpu_hour: float = 40.0
    profiles: Mapping[str, GivenProfile] = field(default_factory=dict)
    calls_per_task: int = 1
    task_p95_ms: float = 0.0
    source: str = ""


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
    workloads: tuple[ServedWorkload, ...]
    batch: BatchSpec = field(default_factory=BatchSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    market: MarketSpec = field(default_factory=MarketSpec)
    request_scale: float = 1.0
    diurnal_peak_hour: float = 21.0
    diurnal_trough_fraction: float = 0.3
    comfort_rtt_ms: float = 6.0
    headroom: float = 0.15
    sources: tuple[str, ...] = ()
    route_factor: float = 1.5  # fibre route length over great-circle distance

    @property
    def gpu_types(self) -> tuple[str, ...]:
        """Every GPU type some site holds, in first-seen order."""
        seen: dict[str, None] = {}
        for s in self.sites:
            for g in s.inventory:
                seen.setdefault(g, None)
        return tuple(seen)
