"""Property tests: on random small markets, leases never exceed what sites offer and a
seed always reproduces the run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.sim import Scenario, SiteSpec, simulate

counts = st.integers(min_value=0, max_value=80)


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    metro_l20=counts,
    hub_h100=counts,
    west_h100=st.integers(min_value=0, max_value=300),
    base=st.floats(min_value=0.0, max_value=0.9),
    volume=st.floats(min_value=100, max_value=20000),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_random_markets_conserve_gpus_and_replay(
    small: Scenario,
    metro_l20: int,
    hub_h100: int,
    west_h100: int,
    base: float,
    volume: float,
    seed: int,
) -> None:
    sites = (
        SiteSpec("beijing-metro", {"L20": metro_l20}, {"L20": 4.6}, base),
        SiteSpec("zhangjiakou", {"H100-SXM": hub_h100}, {"H100-SXM": 12.8}, base),
        SiteSpec(
            "zhongwei",
            {"H100-SXM": west_h100, "A800-SXM-80GB": 16},
            {"H100-SXM": 12.2, "A800-SXM-80GB": 7.4},
            base / 2,
        ),
    )
    workload = replace(small.workloads[0], requests_per_day=volume)
    scenario = replace(small, sites=sites, workloads=(workload,))
    a = simulate(scenario, days=1, seed=seed)
    b = simulate(scenario, days=1, seed=seed)
    inv, held = a.world.inventory, a.world.base
    for name, p in a.policies.items():
        t = p.trajectory
        assert ((t.serve_gpus + t.batch_gpus + t.train_gpus + held[None]) <= inv[None]).all()
        assert np.array_equal(t.replicas, b.policies[name].trajectory.replicas)
        assert np.array_equal(t.price, b.policies[name].trajectory.price)
        assert sum(r.requests for r in p.slo if r.city != "all") == a.requests
