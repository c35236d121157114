"""Per-request latencies and the SLO, cost, utilization and revenue figures of a trajectory.

Latency of a request served by a replica of workload ``w`` on GPU type ``g`` at site ``s``
for city ``c``, with ``ρ = λ / capacity`` the load on the city's rented replicas:

* admitted with probability ``min(1, 1/ρ)`` (an overloaded fleet times the rest out);
* ``TTFT = rtt[c, s] + wait + prefill(prompt)``, the prefill queue an M/M/1 queue per
  replica at utilisation ``ρ_p = min(ρ,1) rps[w,g] E[prefill]``, so
  ``P(wait > x) = ρ_p exp(-(1/E[prefill] - min(ρ,1) rps) x)``;
* ``TPOT = step(batch)`` with ``batch = max(1, min(ρ,1) max_batch)``.

Percentiles are order statistics (the smallest value at or above the q-th share of
requests), so timed-out requests (infinite latency) count against the SLO.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanli.sim.demand import Demand
from suanli.sim.engine import SECONDS_PER_HOUR, Trajectory
from suanli.sim.world import BoolArray, FloatArray, IntArray, World


@dataclass(frozen=True, slots=True, eq=False)
class Latencies:
    """Per request: where it ran and how long it took (inf when timed out)."""

    admitted: BoolArray
    site: IntArray  # -1 when not served
    gpu: IntArray
    ttft_ms: FloatArray
    tpot_ms: FloatArray


def request_latencies(world: World, demand: Demand, traj: Trajectory) -> Latencies:
    """Route every request to a rented replica and compute its TTFT and TPOT."""
    req = demand.requests
    n_c, n_w, n_s, n_g = world.shape
    n_cells = demand.hours * n_c * n_w
    cap = (
        traj.replicas.reshape(demand.hours, n_c, n_w, n_s * n_g).astype(np.float64)
        * np.tile(world.rps, (1, n_s)).reshape(1, 1, n_w, n_s * n_g)
    ).reshape(n_cells, n_s * n_g)
    total = cap.sum(axis=1)
    rate = demand.counts.reshape(n_cells) * world.scenario.request_scale / SECONDS_PER_HOUR
    load = np.divide(rate, total, out=np.full(n_cells, np.inf), where=total > 0)
    cum = np.cumsum(cap, axis=1) / np.where(total > 0, total, 1.0)[:, None]
    cum[:, -1] = np.where(total > 0, 1.0, cum[:, -1])
    rows = np.arange(n_cells, dtype=np.float64)[:, None]
    cell = (req.hour * n_c + req.city) * n_w + req.workload
    pos = np.searchsorted((cum + rows).ravel(), req.u_route + cell, side="right")
    chosen = np.minimum(pos - cell * (n_s * n_g), n_s * n_g - 1)
    rho = load[cell]
    admitted = (total[cell] > 0) & (req.u_admit * np.maximum(rho, 1.0) < 1.0)
    site = np.where(admitted, chosen // n_g, -1)
    gpu = np.where(admitted, chosen % n_g, -1)
    ttft = np.full(req.size, np.inf)
    tpot = np.full(req.size, np.inf)
    busy = np.minimum(rho, 1.0)
    key = np.where(admitted, req.workload * n_g + gpu, -1)
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(n_w * n_g + 1) - 0.5)
    for w, profiles in enumerate(world.profiles):
        for g, name in enumerate(world.gpu_types):
            p = profiles.get(name)
            lo, hi = bounds[w * n_g + g], bounds[w * n_g + g + 1]
            if p is None or hi <= lo:
                continue
            m = order[lo:hi]
            prefill_ms = np.interp(req.prompt_tokens[m], p.prompt_grid, p.prefill_ms)
            batch = np.maximum(1.0, busy[m] * p.max_batch)
            tpot[m] = np.interp(batch, p.batch_grid, p.step_ms)
            mean_s = float(world.prefill_mean_s[w, g])
            arrivals = busy[m] * p.rps
            rho_p = np.clip(arrivals * mean_s, 1e-12, 0.999)
            u = req.u_queue[m]
            tail = u >= 1 - rho_p
            wait_s = np.zeros(m.size)
            safe = np.where(tail, (1 - u) / rho_p, 1.0)
            wait_s[tail] = -np.log(safe[tail]) / (1.0 / mean_s - arrivals[tail])
            ttft[m] = world.rtt_ms[req.city[m], site[m]] + wait_s * 1000.0 + prefill_ms
    return Latencies(admitted=admitted, site=site, gpu=gpu, ttft_ms=ttft, tpot_ms=tpot)


def order_statistic(values: npt.NDArray[np.float64], q: float) -> float:
    """The q-th percentile as an order statistic: the ceil(q/100 n)-th smallest value."""
    if values.size == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100.0 * values.size - 1e-9)))
    return float(np.partition(values, rank - 1)[rank - 1])


@dataclass(frozen=True, slots=True)
class SloRow:
    """SLO figures of one workload in one city (or ``all``)."""

    workload: str
    city: str
    requests: int
    ttft_p50_ms: float
    ttft_p95_ms: float
    ttft_p99_ms: float
    tpot_p50_ms: float
    tpot_p95_ms: float
    ttft_target_ms: float
    tpot_target_ms: float
    attainment: float  # share of requests meeting both targets
    met: bool  # both p95s within target


def slo_rows(world: World, demand: Demand, lat: Latencies) -> list[SloRow]:
    """SLO attainment per workload and city, plus each workload over all cities."""
    req = demand.requests
    rows: list[SloRow] = []
    for w, spec in enumerate(world.scenario.workloads):
        in_w = req.workload == w
        groups = [(c, in_w & (req.city == i)) for i, c in enumerate(world.cities)]
        for city, m in [*groups, ("all", in_w)]:
            ttft, tpot = lat.ttft_ms[m], lat.tpot_ms[m]
            ok = (ttft <= spec.ttft_p95_ms) & (tpot <= spec.tpot_p95_ms)
            p95_ttft, p95_tpot = order_statistic(ttft, 95), order_statistic(tpot, 95)
            rows.append(
                SloRow(
                    workload=spec.name,
                    city=city,
                    requests=int(m.sum()),
                    ttft_p50_ms=order_statistic(ttft, 50),
                    ttft_p95_ms=p95_ttft,
                    ttft_p99_ms=order_statistic(ttft, 99),
                    tpot_p50_ms=order_statistic(tpot, 50),
                    tpot_p95_ms=p95_tpot,
                    ttft_target_ms=spec.ttft_p95_ms,
                    tpot_target_ms=spec.tpot_p95_ms,
                    attainment=float(ok.mean()) if ok.size else float("nan"),
                    met=bool(p95_ttft <= spec.ttft_p95_ms and p95_tpot <= spec.tpot_p95_ms),
                )
            )
    return rows


def utilization(world: World, traj: Trajectory) -> tuple[FloatArray, FloatArray]:
    """Hourly utilization ``[hour, site]`` and ``[hour, region]`` (existing tenants included)."""
    used = (traj.serve_gpus + traj.batch_gpus + traj.train_gpus + world.base[None]).sum(axis=2)
    inv = world.inventory.sum(axis=1).astype(np.float64)
    by_site = used / np.maximum(inv, 1.0)[None, :]
    n_r = len(world.region_names)
    used_r = np.zeros((used.shape[0], n_r))
    inv_r = np.zeros(n_r)
    np.add.at(used_r.T, world.region_of_site, used.T)
    np.add.at(inv_r, world.region_of_site, inv)
    return by_site, used_r / np.maximum(inv_r, 1.0)[None, :]


def price_index(world: World, traj: Trajectory) -> FloatArray:
    """Daily fill-weighted mean price per GPU type ``[day, GPU type]`` (NaN: no fills)."""
    fills = (traj.serve_gpus + traj.batch_gpus + traj.train_gpus).astype(np.float64)
    days = fills.shape[0] // 24 or 1
    hours = days * 24 if fills.shape[0] >= 24 else fills.shape[0]
    f = fills[:hours].reshape(days, -1, *fills.shape[1:]).sum(axis=(1, 2))
    v = (fills * traj.price)[:hours].reshape(days, -1, *fills.shape[1:]).sum(axis=(1, 2))
    result: FloatArray = np.divide(v, f, out=np.full_like(v, np.nan), where=f > 0)
    return result
