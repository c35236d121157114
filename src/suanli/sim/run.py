"""Run a scenario under several policies on the same demand and summarise each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from suanli.errors import InvalidRequest
from suanli.sim.bound import Bound, hindsight_bound
from suanli.sim.demand import Demand, generate_demand
from suanli.sim.engine import Trajectory, simulate_policy
from suanli.sim.metrics import (
    SloRow,
    busy_serving_gpus,
    price_index,
    request_latencies,
    slo_rows,
    utilization,
)
from suanli.sim.policies import REGISTRY, get_policy
from suanli.sim.profiles import ServiceProfile
from suanli.sim.scenario import Scenario
from suanli.sim.world import FloatArray, World, build_world

CDF_POINTS = 101
# Where users are, grouped for the latency CDFs.
USER_REGIONS = {
    "beijing": "North",
    "xian": "Northwest",
    "shanghai": "East",
    "hangzhou": "East",
    "nanjing": "East",
    "guangzhou": "South",
    "shenzhen": "South",
    "wuhan": "Central",
    "chengdu": "Southwest",
    "chongqing": "Southwest",
}


@dataclass(frozen=True, slots=True, eq=False)
class PolicyResult:
    """One policy's figures over the run."""

    policy: str
    label: str
    slo: tuple[SloRow, ...]
    util_site_hourly: FloatArray  # [hour, site] GPUs reserved (leased or held by tenants)
    util_region_hourly: FloatArray  # [hour, region]
    busy_site_hourly: FloatArray  # [hour, site] GPUs busy (serving a request, running a job)
    price_index_daily: FloatArray  # [day, GPU type]
    cost_cny_per_million_tokens: dict[str, float]  # per workload and "all"
    serving_spend_cny: float
    serving_spend_at_start_asks_cny: float  # the same replicas priced at the starting asks
    tokens_served: float
    requests_timed_out: int
    revenue_by_site_cny: FloatArray  # [site]
    market_gpu_hours_by_site: FloatArray  # [site]
    ttft_cdf_ms: dict[str, dict[str, list[float]]]  # workload -> user region -> quantiles
    batch_jobs_done: int
    batch_jobs_on_time: int
    batch_preempted_gpu_hours: float
    batch_preemptions: int
    training_jobs_placed: int
    training_wait_hours_mean: float
    trajectory: Trajectory

    @property
    def revenue_cny(self) -> float:
        return float(self.revenue_by_site_cny.sum())

    @property
    def cost_at_start_asks_cny_per_million_tokens(self) -> float:
        """Serving cost at the starting asks: comparable across policies and with the bound."""
        if self.tokens_served <= 0:
            return float("nan")
        return self.serving_spend_at_start_asks_cny / self.tokens_served * 1e6

    def slo_for(self, workload: str, city: str = "all") -> SloRow:
        return next(r for r in self.slo if r.workload == workload and r.city == city)


@dataclass(frozen=True, slots=True, eq=False)
class SimResult:
    """A whole run: the world, the demand and every policy's result."""

    scenario: Scenario
    world: World
    demand: Demand
    days: float
    seed: int
    policies: dict[str, PolicyResult] = field(default_factory=dict)
    elapsed_s: float = 0.0
    bound: Bound | None = None

    @property
    def requests(self) -> int:
        return self.demand.requests.size


def summarise(world: World, demand: Demand, traj: Trajectory) -> PolicyResult:
    """Turn a trajectory into the figures the report shows."""
    sc = world.scenario
    lat = request_latencies(world, demand, traj)
    req = demand.requests
    n_w = len(sc.workloads)
    util_site, util_region = utilization(world, traj)
    busy_site, _ = utilization(world, traj, busy_serving_gpus(world, demand, traj))
    # Serving spend: replicas x GPUs per replica x price paid, per workload.
    gpus = traj.replicas.astype(np.float64) * world.gpus_per_replica[None, None, :, None, :]
    spend_w = np.einsum("tcwsg,tsg->w", gpus, traj.price)
    spend_start = float(np.einsum("tcwsg,sg->", gpus, world.ask0))
    tokens = (req.prompt_tokens + req.output_tokens).astype(np.float64) * lat.admitted
    tokens_w = np.bincount(req.workload, weights=tokens, minlength=n_w) * sc.request_scale
    cost = {
        w.name: float(spend_w[i] / tokens_w[i] * 1e6) if tokens_w[i] > 0 else float("nan")
        for i, w in enumerate(sc.workloads)
    }
    cost["all"] = (
        float(spend_w.sum() / tokens_w.sum() * 1e6) if tokens_w.sum() > 0 else float("nan")
    )
    market = (traj.serve_gpus + traj.batch_gpus + traj.train_gpus).astype(np.float64)
    revenue = (market * traj.price).sum(axis=(0, 2))
    qs = np.linspace(0, 100, CDF_POINTS)
    cdf: dict[str, dict[str, list[float]]] = {}
    regions_of_city = np.array([USER_REGIONS.get(c, c) for c in world.cities])
    for w, spec in enumerate(sc.workloads):
        cdf[spec.name] = {}
        for region in dict.fromkeys(regions_of_city.tolist()):
            cities = np.nonzero(regions_of_city == region)[0]
            m = (req.workload == w) & np.isin(req.city, cities)
            values = lat.ttft_ms[m]
            if values.size:
                cdf[spec.name][region] = np.percentile(values, qs, method="inverted_cdf").tolist()
    bj = demand.batch
    done = np.isfinite(traj.batch_done_h)
    on_time = done & (traj.batch_done_h <= bj.arrival_h + bj.hours)
    placed = np.isfinite(traj.train_start_h)
    waits = traj.train_start_h[placed] - demand.training.arrival_h[placed]
    return PolicyResult(
        policy=traj.policy,
        label=get_policy(traj.policy).label,
        slo=tuple(slo_rows(world, demand, lat)),
        util_site_hourly=util_site,
        util_region_hourly=util_region,
        busy_site_hourly=busy_site,
        price_index_daily=price_index(world, traj),
        cost_cny_per_million_tokens=cost,
        serving_spend_cny=float(spend_w.sum()),
        serving_spend_at_start_asks_cny=spend_start,
        tokens_served=float(tokens_w.sum()),
        requests_timed_out=int((~lat.admitted).sum()),
        revenue_by_site_cny=revenue,
        market_gpu_hours_by_site=market.sum(axis=(0, 2)),
        ttft_cdf_ms=cdf,
        batch_jobs_done=int(done.sum()),
        batch_jobs_on_time=int(on_time.sum()),
        batch_preempted_gpu_hours=traj.batch_preempted_gpu_hours,
        batch_preemptions=traj.batch_preemptions,
        training_jobs_placed=int(placed.sum()),
        training_wait_hours_mean=float(waits.mean()) if waits.size else 0.0,
        trajectory=traj,
    )


def simulate(
    scenario: Scenario,
    *,
    days: float = 30.0,
    seed: int = 0,
    policies: Sequence[str] | None = None,
    profiles: list[dict[str, ServiceProfile]] | None = None,
    progress: Callable[[str, int], None] | None = None,
    bound: bool = True,
) -> SimResult:
    """Simulate ``scenario`` for ``days`` under each policy, all on one draw of demand, and
    (``bound``) solve the hindsight lower bound on serving cost.

    ``progress(policy, hours_done)`` is called after every simulated hour.
    """
    if not days > 0:
        raise InvalidRequest("days must be > 0", field="days", hint="Try --days 30.")
    if policies is None:
        policies = tuple(REGISTRY)
    if not policies:
        raise InvalidRequest(
            "unknown policy (none)",
            field="policy",
            hint="Use one or more of: " + ", ".join(REGISTRY),
        )
    chosen = [get_policy(p) for p in dict.fromkeys(policies)]
    started = time.perf_counter()
    world = build_world(scenario, profiles)
    demand = generate_demand(scenario, days=days, seed=seed)
    results: dict[str, PolicyResult] = {}
    for policy in chosen:
        name = policy.name
        step = (lambda n, name=name: progress(name, n)) if progress else None
        traj = simulate_policy(world, demand, policy, step)
        results[name] = summarise(world, demand, traj)
    lower = hindsight_bound(world, demand) if bound else None
    return SimResult(
        scenario=scenario,
        world=world,
        demand=demand,
        days=days,
        seed=seed,
        policies=results,
        elapsed_s=time.perf_counter() - started,
        bound=lower,
    )
