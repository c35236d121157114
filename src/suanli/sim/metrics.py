"""Per-request latencies and the SLO, cost, utilization and revenue figures of a trajectory.

A request of workload ``w`` from city ``c`` is routed to a rented replica in proportion to
capacity; with ``rho = lambda / capacity`` the load on the city's replicas (capacity at
the planned requests/s per replica, :mod:`suanli.sim.profiles`):

* it is admitted with probability ``min(1, 1/rho)`` (an overloaded fleet times the rest out);
* ``TTFT = rtt[c, s] + W_slot + W_prefill + prefill(prompt)``, the two waits drawn from
  the queueing model sizing uses (:func:`suanli.perf.queueing.ttft`) at the replica's load
  ``min(rho, 1) x rps`` (rounded up to the profile's load grid);
* ``TPOT = step(b) + b E[prefill] / E[O - 1]`` (sizing's effective TPOT) at the batch in
  flight ``b`` (Little's law, at most the max batch);
* an agent task of ``n`` calls takes ``n (rtt + TTFT' + (O - 1) TPOT)`` with ``TTFT'`` the
  call's TTFT without the network: its calls are taken as alike (the same lengths and queue
  draws), which errs on the slow side, since sums of independent draws vary less.

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
    task_ms: FloatArray  # agent tasks: all calls end to end (inf elsewhere and if timed out)


def sample_wait(
    u: FloatArray, p_wait: FloatArray, mean_s: FloatArray, scv: FloatArray
) -> FloatArray:
    """Draw waits by inverse transform from :class:`suanli.perf.queueing.WaitTail` shapes:
    zero with probability ``1 - p_wait``, else exponential (SCV <= 1) or the balanced-means
    two-phase hyperexponential of the same mean and SCV."""
    waits = np.zeros(u.shape)
    tail = (u >= 1.0 - p_wait) & (p_wait > 0)
    v = np.where(tail, (u - (1.0 - p_wait)) / np.maximum(p_wait, 1e-300), 0.0)
    v = np.clip(v, 0.0, 1.0 - 1e-12)
    c2 = np.maximum(scv, 1.0)
    p1 = 0.5 * (1.0 + np.sqrt((c2 - 1.0) / (c2 + 1.0)))
    first = v < p1
    m1, m2 = mean_s / (2.0 * p1), mean_s / (2.0 * np.maximum(1.0 - p1, 1e-12))
    x1 = -m1 * np.log1p(-np.minimum(v / p1, 1.0 - 1e-12))
    x2 = -m2 * np.log1p(-np.minimum((v - p1) / np.maximum(1.0 - p1, 1e-12), 1.0 - 1e-12))
    exp_only = scv <= 1.0 + 1e-9
    draw = np.where(exp_only, -mean_s * np.log1p(-v), np.where(first, x1, x2))
    waits[tail] = draw[tail]
    return waits


def request_latencies(world: World, demand: Demand, traj: Trajectory) -> Latencies:
    """Route every request to a rented replica and compute its TTFT and TPOT."""
    from suanli.perf.queueing import effective_tpot_s

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
    task = np.full(req.size, np.inf)
    busy = np.minimum(rho, 1.0)
    key = np.where(admitted, req.workload * n_g + gpu, -1)
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(n_w * n_g + 1) - 0.5)
    for w, profiles in enumerate(world.profiles):
        calls = world.scenario.workloads[w].calls_per_task
        for g, name in enumerate(world.gpu_types):
            p = profiles.get(name)
            lo, hi = bounds[w * n_g + g], bounds[w * n_g + g + 1]
            if p is None or hi <= lo:
                continue
            m = order[lo:hi]
            grid = np.asarray(p.load_grid)
            level = np.minimum(np.searchsorted(grid, busy[m] - 1e-12), grid.size - 1)
            slot = np.asarray(p.slot_wait)[level]
            pfw = np.asarray(p.prefill_wait)[level]
            wait_s = sample_wait(req.u_queue[m], slot[:, 0], slot[:, 1], slot[:, 2])
            wait_s += sample_wait(req.u_queue2[m], pfw[:, 0], pfw[:, 1], pfw[:, 2])
            prefill_ms = np.interp(req.prompt_tokens[m], p.prompt_grid, p.prefill_ms)
            step_max_s = p.step_ms / 1e3
            hold_s = p.prefill_mean_ms / 1e3 + p.decode_tokens_mean * step_max_s
            batch = np.clip(busy[m] * p.rps * hold_s, 1.0, float(p.max_batch))
            step_s = np.interp(batch, p.batch_grid, p.step_grid_ms) / 1e3
            tpot_s = effective_tpot_s(
                max_batch=batch,
                step_s=step_s,
                prefill_mean_s=p.prefill_mean_ms / 1e3,
                decode_tokens_mean=p.decode_tokens_mean,
            )
            compute_ms = wait_s * 1000.0 + prefill_ms
            rtt = world.rtt_ms[req.city[m], site[m]]
            ttft[m] = rtt + compute_ms
            tpot[m] = np.asarray(tpot_s) * 1000.0
            if calls > 1:
                decode_ms = np.maximum(req.output_tokens[m] - 1, 0) * tpot[m]
                task[m] = calls * (rtt + compute_ms + decode_ms)
    return Latencies(
        admitted=admitted, site=site, gpu=gpu, ttft_ms=ttft, tpot_ms=tpot, task_ms=task
    )


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
    attainment: float  # share of requests meeting both targets (agents: task and TPOT)
    met: bool  # both p95s within target (agents: the task p95 too)
    task_p95_ms: float = float("nan")
    task_target_ms: float = float("nan")


def slo_rows(world: World, demand: Demand, lat: Latencies) -> list[SloRow]:
    """SLO attainment per workload and city, plus each workload over all cities."""
    req = demand.requests
    rows: list[SloRow] = []
    for w, spec in enumerate(world.scenario.workloads):
        in_w = req.workload == w
        groups = [(c, in_w & (req.city == i)) for i, c in enumerate(world.cities)]
        for city, m in [*groups, ("all", in_w)]:
            ttft, tpot = lat.ttft_ms[m], lat.tpot_ms[m]
            agent = spec.calls_per_task > 1 and spec.task_p95_ms > 0
            p95_ttft, p95_tpot = order_statistic(ttft, 95), order_statistic(tpot, 95)
            if agent:
                task = lat.task_ms[m]
                ok = (task <= spec.task_p95_ms) & (tpot <= spec.tpot_p95_ms)
                p95_task = order_statistic(task, 95)
                met = bool(p95_task <= spec.task_p95_ms and p95_tpot <= spec.tpot_p95_ms)
            else:
                ok = (ttft <= spec.ttft_p95_ms) & (tpot <= spec.tpot_p95_ms)
                p95_task = float("nan")
                met = bool(p95_ttft <= spec.ttft_p95_ms and p95_tpot <= spec.tpot_p95_ms)
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
                    met=met,
                    task_p95_ms=p95_task,
                    task_target_ms=spec.task_p95_ms if agent else float("nan"),
                )
            )
    return rows


def busy_serving_gpus(world: World, demand: Demand, traj: Trajectory) -> FloatArray:
    """Expected serving GPUs busy ``[hour, site, GPU type]``: a replica is busy while at
    least one request is in it; with Poisson arrivals at ``x`` requests/s and a mean hold
    ``H`` (prefill plus decode) that is ``1 - exp(-x H)`` of the time (M/G/infinity)."""
    _, n_w, _, n_g = world.shape
    rate = demand.counts * world.scenario.request_scale / SECONDS_PER_HOUR  # [t, c, w]
    cap = traj.replicas.astype(np.float64) * world.rps[None, None, :, None, :]
    total = cap.sum(axis=(3, 4))
    rho = np.minimum(np.divide(rate, total, out=np.zeros_like(rate), where=total > 0), 1.0)
    hold = np.zeros((n_w, n_g))
    for w, profiles in enumerate(world.profiles):
        for g, name in enumerate(world.gpu_types):
            p = profiles.get(name)
            if p is not None:
                hold[w, g] = p.prefill_mean_ms / 1e3 + p.decode_tokens_mean * p.step_ms / 1e3
    in_flight = (
        rho[:, :, :, None, None] * world.rps[None, None, :, None, :] * hold[None, None, :, None, :]
    )
    busy_share = 1.0 - np.exp(-in_flight)
    gpus = traj.replicas.astype(np.float64) * world.gpus_per_replica[None, None, :, None, :]
    result: FloatArray = np.einsum("tcwsg,tcwsg->tsg", gpus, busy_share)
    return result


def utilization(
    world: World, traj: Trajectory, serving: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Hourly utilization ``[hour, site]`` and ``[hour, region]`` (existing tenants included):
    GPUs reserved, or with ``serving`` (busy serving GPUs) in place of the serving leases,
    GPUs busy. Batch and training GPUs are busy while leased."""
    serve = traj.serve_gpus if serving is None else serving
    used = (serve + traj.batch_gpus + traj.train_gpus + world.base[None]).sum(axis=2)
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
