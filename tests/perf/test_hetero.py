"""The heterogeneous (Mélange-style) plan: its MILP against brute force, and its report."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from suanli import catalog
from suanli.catalog.traces import builtin_trace
from suanli.perf.hetero import _solve, split_buckets
from suanli.perf.sizing import ServeRequest, size

PRICES = catalog.reference_prices()


def _brute_force(rates: np.ndarray, limits: np.ndarray, costs: np.ndarray) -> float:
    """Cheapest replica vector n: enumerate every n (cheapest first) and check, by an LP,
    whether the buckets' shares can be spread over those replicas."""
    nb, nk = limits.shape
    ok = limits > 0
    upper = [
        math.ceil(sum(rates[b] / limits[b, k] for b in range(nb) if ok[b, k])) for k in range(nk)
    ]
    vectors = sorted(
        itertools.product(*(range(u + 1) for u in upper)),
        key=lambda n: float(np.dot(n, costs)),
    )
    a_eq = np.zeros((nb, nb * nk))
    for b in range(nb):
        a_eq[b, b * nk : (b + 1) * nk] = 1
    a_ub = np.zeros((nk, nb * nk))
    for k in range(nk):
        for b in range(nb):
            a_ub[k, b * nk + k] = rates[b] / limits[b, k] if ok[b, k] else 0.0
    bounds = [(0.0, 1.0 if ok[b, k] else 0.0) for b in range(nb) for k in range(nk)]
    for n in vectors:
        res = linprog(
            np.zeros(nb * nk),
            A_ub=a_ub,
            b_ub=np.asarray(n, float),
            A_eq=a_eq,
            b_eq=np.ones(nb),
            bounds=bounds,
        )
        if res.status == 0:
            return float(np.dot(n, costs))
    return math.inf


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_exhaustive_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nb, nk = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    rates = rng.uniform(0.5, 6.0, nb)
    limits = rng.uniform(1.0, 8.0, (nb, nk))
    limits[rng.random((nb, nk)) < 0.2] = 0.0  # some bucket/option pairs cannot serve
    limits[:, 0] = np.maximum(limits[:, 0], 1.0)  # keep it feasible
    costs = rng.uniform(2.0, 30.0, nk)
    x = _solve(rates, limits, costs)
    assert x is not None
    assert np.allclose(x.sum(axis=1), 1.0)
    assert np.all(x[limits <= 0] == 0)
    load = (x * rates[:, None] / np.where(limits > 0, limits, 1.0)).sum(axis=0)
    cost = float(np.dot(np.ceil(load - 1e-6), costs))
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
    served: dict[str, float] = {}
    for g in plan.groups:
        for label, share in zip(g.buckets, g.bucket_shares, strict=True):
            served[label] = served.get(label, 0.0) + share
    assert set(served) == set(plan.assignment)
    assert all(total == pytest.approx(1.0) for total in served.values())
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
