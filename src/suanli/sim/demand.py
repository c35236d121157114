"""Demand generators: serving requests from the cities, batch-inference and training jobs.

Demand is drawn once per seed and shared by every policy, so policies are compared on the
same requests and jobs. Serving requests arrive per city and hour as Poisson counts whose
mean follows a diurnal cycle (China runs on one time zone),

    rate(h) ∝ trough + (1 - trough) * (1 + cos(2π (h - peak) / 24)) / 2,

normalised so a day holds the workload's ``requests_per_day``; each request's prompt and
output lengths are drawn from the workload's real trace (Azure LLM inference 2023).

Arrival counts are Poisson rather than the trace's own minute-by-minute pattern on purpose:
one city's traffic is the sum of many independent users (each simulated request stands for
``request_scale`` real ones), and such a sum is far smoother than one deployment's trace
(the code trace's busiest minute carries 4x its mean rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanli.catalog.traces import builtin_trace
from suanli.sim.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Requests:
    """Simulated serving requests, sorted by (hour, city, workload).

    The four uniforms are drawn with the demand so that routing, admission and queueing
    are the same random experiment under every policy.
    """

    hour: IntArray
    city: IntArray
    workload: IntArray
    prompt_tokens: IntArray
    output_tokens: IntArray
    u_route: FloatArray
    u_admit: FloatArray
    u_queue: FloatArray
    u_queue2: FloatArray

    @property
    def size(self) -> int:
        return int(self.hour.size)


@dataclass(frozen=True, slots=True, eq=False)
class Jobs:
    """Batch or training jobs in arrival order (``gpus`` is the gang size for training and
    the most GPUs a batch job can use)."""

    arrival_h: IntArray
    city: IntArray
    gpus: IntArray
    work_gpu_hours: FloatArray  # H100-equivalent GPU-hours (batch) or gang hours x gpus
    hours: FloatArray  # training duration; for batch the deadline after arrival
    max_price: FloatArray

    @property
    def size(self) -> int:
        return int(self.arrival_h.size)


@dataclass(frozen=True, slots=True, eq=False)
class Demand:
    """All demand of one run."""

    hours: int
    cities: tuple[str, ...]
    workloads: tuple[str, ...]
    requests: Requests
    counts: IntArray  # simulated requests per (hour, city, workload)
    batch: Jobs
    training: Jobs


def diurnal_profile(peak_hour: float, trough_fraction: float) -> FloatArray:
    """Relative request rate for each hour of a day, mean 1."""
    h = np.arange(24, dtype=np.float64) + 0.5
    shape = trough_fraction + (1 - trough_fraction) * 0.5 * (
        1 + np.cos(2 * np.pi * (h - peak_hour) / 24)
    )
    result: FloatArray = shape / shape.mean()
    return result


def generate_demand(scenario: Scenario, *, days: float, seed: int) -> Demand:
    """Draw the run's requests and jobs from the scenario (deterministic under ``seed``)."""
    hours = max(1, round(days * 24))
    rng_requests, rng_tokens, rng_uniform, rng_batch, rng_train = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    cities = tuple(scenario.cities)
    weights = np.array([scenario.cities[c] for c in cities], dtype=np.float64)
    weights /= weights.sum()
    diurnal = diurnal_profile(scenario.diurnal_peak_hour, scenario.diurnal_trough_fraction)
    hour_factor = diurnal[np.arange(hours) % 24]
    per_day = np.array([w.requests_per_day for w in scenario.workloads], dtype=np.float64)
    mean = hour_factor[:, None, None] * weights[None, :, None] * per_day[None, None, :] / 24.0
    counts: IntArray = rng_requests.poisson(mean).astype(np.int64)

    flat = counts.ravel()
    cells = np.repeat(np.arange(flat.size), flat)
    n_c, n_w = len(cities), len(scenario.workloads)
    hour = cells // (n_c * n_w)
    city = (cells // n_w) % n_c
    workload = cells % n_w
    prompt = np.empty(cells.size, dtype=np.int64)
    output = np.empty(cells.size, dtype=np.int64)
    for w, spec in enumerate(scenario.workloads):
        trace = builtin_trace(spec.trace)
        mask = workload == w
        pick = rng_tokens.integers(0, trace.size, int(mask.sum()))
        prompt[mask] = np.maximum(trace.prompt_tokens[pick], 1)
        output[mask] = np.maximum(trace.output_tokens[pick], 1)
    uniforms = rng_uniform.random((4, cells.size))
    requests = Requests(
        hour=hour,
        city=city,
        workload=workload,
        prompt_tokens=prompt,
        output_tokens=output,
        u_route=uniforms[0],
        u_admit=uniforms[1],
        u_queue=uniforms[2],
        u_queue2=uniforms[3],
    )

    b = scenario.batch
    n_batch = int(rng_batch.poisson(b.jobs_per_day * hours / 24))
    batch = Jobs(
        arrival_h=np.sort(rng_batch.integers(0, hours, n_batch)),
        city=rng_batch.choice(n_c, n_batch, p=weights),
        gpus=np.full(n_batch, b.max_gpus, dtype=np.int64),
        work_gpu_hours=b.gpu_hours_mean * rng_batch.lognormal(-0.5 * 0.6**2, 0.6, n_batch),
        hours=np.full(n_batch, b.deadline_h),
        max_price=np.full(n_batch, b.max_price_cny_per_gpu_hour),
    )
    t = scenario.training
    n_train = int(rng_train.poisson(t.jobs_per_day * hours / 24))
    gangs = np.array(t.gang_sizes, dtype=np.int64)
    train_hours = np.maximum(
        1.0, np.round(t.hours_mean * rng_train.lognormal(-0.125, 0.5, n_train))
    )
    train_gpus = rng_train.choice(gangs, n_train) if n_train else np.zeros(0, dtype=np.int64)
    training = Jobs(
        arrival_h=np.sort(rng_train.integers(0, hours, n_train)),
        city=rng_train.choice(n_c, n_train, p=weights),
        gpus=train_gpus.astype(np.int64),
        work_gpu_hours=(train_gpus * train_hours).astype(np.float64),
        hours=train_hours,
        max_price=np.full(n_train, t.max_price_cny_per_gpu_hour),
    )
    return Demand(
        hours=hours,
        cities=cities,
        workloads=tuple(w.name for w in scenario.workloads),
        requests=requests,
        counts=counts,
        batch=batch,
        training=training,
    )
