"""The heterogeneous (Mélange-style) plan: its MILP against brute force, and its report."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from suanli import catalog
from suanli.catalog.traces import builtin_trace
from suanli.perf.hetero import _solve, split_buckets
from suanli.perf.sizing import ServeRequest, size

PRICES = catalog.reference_prices()


def _brute_force(rates: np.ndarray, limits: np.ndarray, costs: np.ndarray) -> float:
    """Cheapest cost over every bucket -> option assignment (replicas rounded up)."""
    nb, nk = limits.shape
    best = math.inf
    for choice in itertools.product(range(nk), repeat=nb):
        if any(limits[b, k] <= 0 for b, k in enumerate(choice)):
            continue
        load = np.zeros(nk)
        for b, k in enumerate(choice):
            load[k] += rates[b] / limits[b, k]
        cost = float(np.dot(np.ceil(load - 1e-9), costs))
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_milp_matches_exhaustive_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nb, nk = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    rates = rng.uniform(0.5, 20.0, nb)
    limits = rng.uniform(0.5, 8.0, (nb, nk))
    limits[rng.random((nb, nk)) < 0.2] = 0.0  # some bucket/option pairs cannot serve
    limits[:, 0] = np.maximum(limits[:, 0], 0.5)  # keep it feasible
    costs = rng.uniform(2.0, 30.0, nk)
    x = _solve(rates, limits, costs)
    assert x is not None
    assert np.all(x.sum(axis=1) == 1)
    assert np.all(limits[x > 0.5] > 0)
    load = (x * rates[:, None] / np.where(limits > 0, limits, 1.0)).sum(axis=0)
    cost = float(np.dot(np.ceil(load - 1e-9), costs))
    assert cost == pytest.approx(_brute_force(rates, limits, costs), rel=1e-6)


def test_buckets_partition_the_trace() -> None:
    trace = builtin_trace("azure-conv")
    parts = split_buckets(trace.prompt_tokens, trace.output_tokens)
    total = np.zeros(trace.size, dtype=int)
    for *_, mask in parts:
        total += mask
    assert np.all(total == 1)


@pytest.fixture(scope="module")
def mixed() -> object:
    request = ServeRequest(
        model="qwen2.5-7b",
        rate_per_s=30.0,
        ttft_ms=1000.0,
        tpot_ms=40.0,
        trace=builtin_trace("azure-conv"),
    )
    gpus = [catalog.gpu(n) for n in ("H100-SXM", "H20", "L40S", "RTX-4090")]
    return size(request, gpus, PRICES)


def test_plan_covers_every_bucket_and_costs_add_up(mixed: object) -> None:
    plan = mixed.heterogeneous  # type: ignore[attr-defined]
    assert plan is not None
    assert sum(b.share for b in plan.buckets) == pytest.approx(1.0)
    assert set(plan.assignment) == {b.label for b in plan.buckets}
    served = [label for g in plan.groups for label in g.buckets]
    assert sorted(served) == sorted(plan.assignment)
    assert plan.cost_cny_per_hour == pytest.approx(sum(g.cost_cny_per_hour for g in plan.groups))
    for g in plan.groups:
        assert g.gpus == g.replicas * g.tp
        assert g.cost_cny_per_hour == pytest.approx(g.gpus * PRICES[g.gpu])
        if math.isfinite(g.ttft_ms):
            assert g.ttft_ms <= 1000.0 + 1e-6


def test_comparison_with_the_best_single_type_is_consistent(mixed: object) -> None:
    plan = mixed.heterogeneous  # type: ignore[attr-defined]
    best = mixed.best  # type: ignore[attr-defined]
    assert best is not None
    assert plan.best_single_cost_cny_per_hour == best.cost_cny_per_hour
    assert plan.savings_fraction == pytest.approx(
        1 - plan.cost_cny_per_hour / best.cost_cny_per_hour
    )
    assert plan.beats_single == (plan.cost_cny_per_hour < best.cost_cny_per_hour)
    assert best.gpu in plan.note


def test_no_trace_no_mixed_plan() -> None:
    request = ServeRequest(
        model="qwen2.5-7b",
        rate_per_s=5.0,
        ttft_ms=1000.0,
        tpot_ms=40.0,
        prompt_tokens=500,
        output_tokens=200,
    )
    assert size(request, [catalog.gpu("H100")], PRICES).heterogeneous is None
