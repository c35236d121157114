"""The event loop: one period per hour, every policy on the same demand.

Each hour, in order:
1. training leases that end are released; waiting and new training jobs take a gang of GPUs
   at one site (non-preemptible, fixed term);
2. the policy rents serving replicas for each city's demand (hourly leases), taking GPUs
   from running batch jobs if needed (preemption);
3. batch jobs (earliest deadline first) fill what is left, up to their parallelism;
4. the market prices the period's leases: posted asks for the baselines, a uniform clearing
   price per instrument (GPU type, region) for Suanli;
5. at the end of each day sellers move their asks with their utilization.

Conservation holds by construction and is checked: base + training + serving + batch
never exceeds a site's inventory of a GPU type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanli.sim.clearing import period_prices
from suanli.sim.demand import Demand
from suanli.sim.policies import Hour, Policy
from suanli.sim.world import FloatArray, IntArray, World

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """What one policy did, hour by hour (arrays indexed [hour, site, GPU type] unless noted)."""

    policy: str
    serve_gpus: IntArray
    batch_gpus: IntArray
    train_gpus: IntArray
    price: FloatArray  # CNY per GPU-hour paid for this period's leases
    ask: FloatArray
    replicas: npt.NDArray[np.int32]  # [hour, city, workload, site, GPU type]
    batch_done_h: FloatArray  # per batch job: completion hour (inf if not finished)
    batch_started_h: FloatArray  # per batch job: first hour with GPUs (inf if never)
    batch_preempted_gpu_hours: float
    batch_preemptions: int
    train_start_h: FloatArray  # per training job (inf if never placed)
    train_site: IntArray  # per training job (-1 if never placed)


def simulate_policy(
    world: World,
    demand: Demand,
    policy: Policy | str,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Run ``policy`` over the demand and return its trajectory.

    Serving replicas are planned at sizing's per-replica rate (headroom included), so the
    hour's need is its mean request rate.
    """
    if isinstance(policy, str):
        from suanli.sim.policies import get_policy

        policy = get_policy(policy)
    sc = world.scenario
    n_c, n_w, n_s, n_g = world.shape
    hours = demand.hours
    inv, base = world.inventory, world.base
    ask = world.ask0.copy()
    floor = world.ask0 * sc.market.price_floor_fraction
    cap = world.ask0 * sc.market.price_cap_fraction
    serve_gpus = np.zeros((hours, n_s, n_g), dtype=np.int64)
    batch_gpus = np.zeros_like(serve_gpus)
    train_gpus = np.zeros_like(serve_gpus)
    price = np.zeros((hours, n_s, n_g))
    asks = np.zeros((hours, n_s, n_g))
    all_replicas = np.zeros((hours, n_c, n_w, n_s, n_g), dtype=np.int32)
    rate = demand.counts * sc.request_scale / SECONDS_PER_HOUR  # [hour, city, workload]

    tj = demand.training
    train_start = np.full(tj.size, np.inf)
    train_site = np.full(tj.size, -1, dtype=np.int64)
    train_cell = np.full(tj.size, -1, dtype=np.int64)
    train_end = np.full(tj.size, np.inf)
    held_train = np.zeros((n_s, n_g), dtype=np.int64)

    bj = demand.batch
    work_left = bj.work_gpu_hours.copy()
    batch_done = np.full(bj.size, np.inf)
    batch_started = np.full(bj.size, np.inf)
    batch_cell = np.full(bj.size, -1, dtype=np.int64)
    batch_now = np.zeros(bj.size, dtype=np.int64)
    preempted_gpu_hours, preemptions = 0.0, 0
    last_serve = np.zeros((n_s, n_g), dtype=np.int64)

    cache: dict[object, object] = {}
    peak_need = rate.sum(axis=1).max(axis=0)

    def targets(city: int, usable: str, max_price: float) -> IntArray:
        key = ("jobs", city, usable, max_price)
        if key not in cache:
            ok = world.train_ok if usable == "train" else world.batch_ok
            cache[key] = policy.job_cells(world, city, ok, ask, max_price)
        result: IntArray = cache[key]  # type: ignore[assignment]
        return result

    for t in range(hours):
        # 1. Training: release, then place waiting jobs in arrival order.
        for j in np.nonzero(train_end <= t)[0]:
            s, g = divmod(int(train_cell[j]), n_g)
            held_train[s, g] -= tj.gpus[j]
            train_end[j] = np.inf
        # Sellers keep back what their serving tenants used at the peak of the last day.
        recent = serve_gpus[max(0, t - 24) : t]
        serve_peak = recent.max(axis=0) if t > 0 else last_serve
        idle = inv - base - held_train - np.maximum(serve_peak, last_serve)
        waiting = np.nonzero((tj.arrival_h <= t) & ~np.isfinite(train_start))[0]
        picks = None
        if waiting.size:
            picks = policy.place_gangs(world, tj.gpus[waiting], tj.max_price[waiting], idle, ask)
        if picks is None:
            picks = [-2] * waiting.size
        for j, pick in zip(waiting, picks, strict=True):
            options = (
                [pick] if pick >= -1 else targets(int(tj.city[j]), "train", float(tj.max_price[j]))
            )
            for cell in options:
                if cell < 0:
                    continue
                s, g = divmod(int(cell), n_g)
                if idle[s, g] >= tj.gpus[j]:
                    idle[s, g] -= tj.gpus[j]
                    held_train[s, g] += tj.gpus[j]
                    train_start[j], train_site[j], train_cell[j] = t, s, cell
                    train_end[j] = t + tj.hours[j]
                    break
        # 2. Serving for this hour's demand.
        free_for_serving = inv - base - held_train
        replicas = policy.serve(Hour(world, t, rate[t], free_for_serving, ask, peak_need, cache))
        check_replicas(world, replicas, free_for_serving, policy.name, t)
        all_replicas[t] = replicas
        serving = np.einsum("cwsg,wg->sg", replicas, world.gpus_per_replica)
        # 3. Batch jobs, earliest deadline first; a job keeps its cell while it has room.
        free = inv - base - held_train - serving
        active = np.nonzero((bj.arrival_h <= t) & (work_left > 0))[0]
        active = active[np.argsort(bj.arrival_h[active] + bj.hours[active], kind="stable")]
        batch_use = np.zeros((n_s, n_g), dtype=np.int64)
        new_now = np.zeros_like(batch_now)
        for j in active:
            cells = targets(int(bj.city[j]), "batch", float(bj.max_price[j]))
            if batch_cell[j] >= 0:
                cells = np.concatenate([[batch_cell[j]], cells[cells != batch_cell[j]]])
            prev_cell, prev_n = int(batch_cell[j]), int(batch_now[j])
            wanted = 0
            remaining_before = float(work_left[j])
            for cell in cells:
                s, g = divmod(int(cell), n_g)
                wanted = min(int(bj.gpus[j]), int(np.ceil(work_left[j] / world.speed[g] - 1e-9)))
                got = min(wanted, int(free[s, g]))
                if got > 0:
                    free[s, g] -= got
                    batch_use[s, g] += got
                    new_now[j] = got
                    batch_cell[j] = cell
                    batch_started[j] = min(batch_started[j], t)
                    work_left[j] -= got * world.speed[g]
                    if work_left[j] <= 1e-9:
                        work_left[j] = 0.0
                        batch_done[j] = t + 1
                    break
            kept = int(new_now[j]) if batch_cell[j] == prev_cell else 0
            if prev_cell >= 0:
                g_prev = prev_cell % n_g
                wanted = min(int(bj.gpus[j]), int(np.ceil(remaining_before / world.speed[g_prev])))
            lost = min(prev_n, wanted) - kept
            if lost > 0:
                preempted_gpu_hours += float(lost)
                preemptions += 1
        batch_now = new_now
        used = base + held_train + serving + batch_use
        if np.any(used > inv) or np.any(held_train < 0) or np.any(batch_use < 0):
            raise AssertionError(f"conservation broken at hour {t} under {policy.name}")
        serve_gpus[t], batch_gpus[t], train_gpus[t] = serving, batch_use, held_train
        last_serve = serving
        # 4. Prices for this period's leases.
        fills = serving + batch_use + held_train
        serve_limit = min(w.max_price_cny_per_gpu_hour for w in sc.workloads)
        price[t] = period_prices(
            policy.market,
            fills,
            ask,
            world.region_of_site,
            supply=inv - base,
            bids=[
                (serving, serve_limit),
                (batch_use, sc.batch.max_price_cny_per_gpu_hour),
                (held_train, sc.training.max_price_cny_per_gpu_hour),
            ],
        )
        asks[t] = ask
        # 5. Daily ask moves.
        if t % 24 == 23:
            day = slice(t - 23, t + 1)
            used_day = (serve_gpus[day] + batch_gpus[day] + train_gpus[day]).mean(axis=0) + base
            util = np.divide(used_day, inv, out=np.zeros_like(ask), where=inv > 0)
            move = np.exp(
                sc.market.price_elasticity_per_day * (util - sc.market.target_utilization)
            )
            ask = np.clip(ask * move, floor, cap)
            cache.clear()
        if progress is not None:
            progress(1)
    return Trajectory(
        policy=policy.name,
        serve_gpus=serve_gpus,
        batch_gpus=batch_gpus,
        train_gpus=train_gpus,
        price=price,
        ask=asks,
        replicas=all_replicas,
        batch_done_h=batch_done,
        batch_started_h=batch_started,
        batch_preempted_gpu_hours=preempted_gpu_hours,
        batch_preemptions=preemptions,
        train_start_h=train_start,
        train_site=train_site,
    )


def check_replicas(world: World, replicas: IntArray, free: IntArray, policy: str, t: int) -> None:
    """A policy's serving decision must be whole, non-negative replicas of types that can
    serve the workload, within the GPUs it was offered."""
    if np.any(replicas < 0):
        raise AssertionError(f"{policy} rented negative replicas at hour {t}")
    bad = (replicas.sum(axis=(0, 2)) > 0) & (world.gpus_per_replica == 0)
    if np.any(bad):
        raise AssertionError(f"{policy} placed a workload on a GPU type that cannot serve it")
    used = np.einsum("cwsg,wg->sg", replicas, world.gpus_per_replica)
    if np.any(used > free):
        raise AssertionError(f"{policy} rented more GPUs than were free at hour {t}")
