"""SLO accounting against a brute-force computation, one request at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanli.bench.sim import scalar_latencies
from suanli.sim import Scenario, simulate
from suanli.sim.metrics import order_statistic, request_latencies, slo_rows


def brute_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


@pytest.mark.parametrize("policy", ["nearest", "suanli"])
def test_slo_rows_match_brute_force(small: Scenario, policy: str) -> None:
    result = simulate(small, days=2, seed=11, policies=[policy])
    world, demand = result.world, result.demand
    traj = result.policies[policy].trajectory
    lat = request_latencies(world, demand, traj)
    # Latencies: the vectorised model equals a one-request-at-a-time evaluation.
    n = 3000
    scalar = np.array(scalar_latencies(world, demand, traj, n))
    assert np.allclose(scalar, lat.ttft_ms[:n], rtol=1e-9)
    rows = {(r.workload, r.city): r for r in slo_rows(world, demand, lat)}
    req = demand.requests
    spec = small.workloads[0]
    for c, city in enumerate([*world.cities, "all"]):
        ttft: list[float] = []
        tpot: list[float] = []
        met = 0
        for i in range(req.size):
            if city != "all" and req.city[i] != c:
                continue
            ttft.append(float(lat.ttft_ms[i]))
            tpot.append(float(lat.tpot_ms[i]))
            met += ttft[-1] <= spec.ttft_p95_ms and tpot[-1] <= spec.tpot_p95_ms
        row = rows[(spec.name, city)]
        assert row.requests == len(ttft)
        assert row.ttft_p95_ms == brute_percentile(ttft, 95)
        assert row.ttft_p50_ms == brute_percentile(ttft, 50)
        assert row.ttft_p99_ms == brute_percentile(ttft, 99)
        assert row.tpot_p95_ms == brute_percentile(tpot, 95)
        assert row.attainment == pytest.approx(met / len(ttft))
        assert row.met == (
            brute_percentile(ttft, 95) <= spec.ttft_p95_ms
            and brute_percentile(tpot, 95) <= spec.tpot_p95_ms
        )


def test_order_statistic_edge_cases() -> None:
    assert math.isnan(order_statistic(np.array([]), 95))
    assert order_statistic(np.array([3.0]), 95) == 3.0
    values = np.array([5.0, 1.0, np.inf, 2.0])
    assert order_statistic(values, 50) == 2.0
    assert order_statistic(values, 95) == np.inf


def test_overloaded_fleet_times_requests_out(small: Scenario) -> None:
    from dataclasses import replace

    busy = replace(small, workloads=(replace(small.workloads[0], requests_per_day=60000),))
    result = simulate(busy, days=1, seed=0, policies=["nearest"])
    p = result.policies["nearest"]
    assert p.requests_timed_out > 0
    assert p.slo_for("chat").attainment < 0.99


def test_cost_is_spend_over_tokens(small: Scenario) -> None:
    result = simulate(small, days=1, seed=2, policies=["suanli"])
    p = result.policies["suanli"]
    t = p.trajectory
    k = result.world.gpus_per_replica
    spend = float((np.einsum("tcwsg,wg->tsg", t.replicas.astype(np.float64), k) * t.price).sum())
    assert p.serving_spend_cny == pytest.approx(spend)
    assert p.cost_cny_per_million_tokens["all"] == pytest.approx(spend / p.tokens_served * 1e6)
    # Revenue equals every market lease times its price.
    leased = t.serve_gpus + t.batch_gpus + t.train_gpus
    assert p.revenue_cny == pytest.approx(float((leased * t.price).sum()))
