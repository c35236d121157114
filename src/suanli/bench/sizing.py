"""``suanli bench sizing``: how fast sizing is over every GPU type, and how close its queueing
model comes to a brute-force simulation of the chosen configuration (the baseline)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from suanli import catalog
from suanli.catalog.models import model as lookup_model
from suanli.catalog.traces import builtin_trace
from suanli.perf import decode_step, prefill
from suanli.perf.queueing import simulate_replica
from suanli.perf.sizing import Config, ServeRequest, request_workload, size


def _median_s(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def simulate_config(
    request: ServeRequest, config: Config, *, requests: int, seed: int
) -> dict[str, float]:
    """Run one replica of ``config`` at its share of the load in the scheduler simulation,
    with lengths drawn from the request's trace and times from the step-time model."""
    assert request.trace is not None
    arch, gpu = lookup_model(request.model), catalog.gpu(config.gpu)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, request.trace.size, requests)
    prompts = np.maximum(request.trace.prompt_tokens[pick], 1)
    outputs = np.maximum(request.trace.output_tokens[pick], 1).astype(np.int64)
    grid = np.unique(np.quantile(prompts, np.linspace(0, 1, 41)).astype(int))
    grid_ms = [
        prefill(
            arch, gpu, prompt_tokens=int(p), tp=config.tp, precision=request.precision
        ).prefill_ms
        for p in grid
    ]
    prefill_s = np.interp(prompts, grid, grid_ms) / 1e3
    work = request_workload(request)
    step_s = (
        decode_step(
            arch,
            gpu,
            batch=config.max_batch,
            context=work.decode_context,
            tp=config.tp,
            precision=request.precision,
        ).step_ms
        / 1e3
    )
    rate = request.rate_per_s / config.replicas
    arrivals = np.cumsum(rng.exponential(1.0 / rate, requests))
    sim = simulate_replica(arrivals, prefill_s, outputs, step_s=step_s, max_batch=config.max_batch)
    warm = requests // 10
    return {
        "ttft_ms_simulated": float(np.quantile(sim.ttft_s[warm:], request.percentile / 100) * 1e3),
        "ttft_ms_model": config.ttft_ms,
        "tpot_ms_simulated_mean": float(np.nanmean(sim.tpot_s[warm:]) * 1e3),
        "tpot_ms_model_bound": config.tpot_ms,
    }


def run(
    *, model: str = "qwen2.5-32b", rate_per_s: float = 40.0, repeats: int = 3
) -> dict[str, Any]:
    """Time ``size`` over all GPU types on both built-in traces; check the best config."""
    gpus, prices = catalog.gpus(), catalog.reference_prices()
    out: dict[str, Any] = {
        "model": model,
        "rate_per_s": rate_per_s,
        "gpu_types": len(gpus),
        "traces": {},
    }
    for name in ("azure-conv", "azure-code"):
        request = ServeRequest(
            model=model,
            rate_per_s=rate_per_s,
            ttft_ms=800.0,
            tpot_ms=50.0,
            trace=builtin_trace(name),
        )
        size(request, gpus, prices)  # warm imports and caches
        single_s = _median_s(lambda r=request: size(r, gpus, prices, heterogeneous=False), repeats)
        mixed_s = _median_s(lambda r=request: size(r, gpus, prices), repeats)
        sizing = size(request, gpus, prices)
        entry: dict[str, Any] = {
            "size_s": single_s,
            "size_with_mixed_plan_s": mixed_s,
            "configs": len(sizing.configs),
            "rejected_types": len(sizing.rejected_types()),
        }
        if sizing.best is not None:
            best = sizing.best
            entry["best"] = {
                "gpu": best.gpu,
                "tp": best.tp,
                "replicas": best.replicas,
                "cost_cny_per_hour": best.cost_cny_per_hour,
            }
            entry["baseline_simulation"] = simulate_config(request, best, requests=20_000, seed=0)
        if sizing.heterogeneous is not None:
            entry["mixed_plan_cost_cny_per_hour"] = sizing.heterogeneous.cost_cny_per_hour
            entry["mixed_plan_savings_fraction"] = sizing.heterogeneous.savings_fraction
        out["traces"][name] = entry
    return out
