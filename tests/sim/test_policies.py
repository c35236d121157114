"""Policies are plug-ins: one class registers a policy everywhere; the engine checks every
decision; the hindsight bound is below every policy's cost."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.sim import REGISTRY, Scenario, simulate
from suanli.sim.policies import Hour, Nearest, register
from suanli.sim.world import IntArray


def test_the_registry_lists_every_policy_the_issue_asks_for() -> None:
    assert {"nearest", "nearest-spill", "cheapest-type", "greedy", "suanli"} <= set(REGISTRY)
    for name, policy in REGISTRY.items():
        assert policy.name == name and policy.label
        assert policy.market in ("posted", "auction")


def test_one_registered_class_is_a_policy_the_simulator_runs(small: Scenario) -> None:
    @register
    class EveryOther(Nearest):
        name = "every-other"
        label = "Nearest under another name"

    try:
        result = simulate(small, days=1, seed=0, policies=["every-other", "nearest"])
        a = result.policies["every-other"].trajectory.replicas
        b = result.policies["nearest"].trajectory.replicas
        assert np.array_equal(a, b)  # same decisions as the class it extends
        assert result.policies["every-other"].label == EveryOther.label
    finally:
        del REGISTRY["every-other"]


def test_the_engine_rejects_a_policy_that_overbooks(small: Scenario) -> None:
    @register
    class Overbook(Nearest):
        name = "overbook"

        def serve(self, hour: Hour) -> IntArray:
            replicas = super().serve(hour)
            replicas[0, 0] += hour.free.max() + 1  # more than any site has
            return replicas

    try:
        with pytest.raises(AssertionError, match="more GPUs than were free"):
            simulate(small, days=0.5, seed=0, policies=["overbook"])
    finally:
        del REGISTRY["overbook"]


@pytest.mark.parametrize("seed", [0, 3])
def test_the_hindsight_bound_is_below_every_policy(small: Scenario, seed: int) -> None:
    result = simulate(small, days=2, seed=seed)
    assert result.bound is not None
    bound = result.bound.serving_spend_cny
    assert bound > 0
    for p in result.policies.values():
        if p.requests_timed_out == 0:
            assert p.serving_spend_at_start_asks_cny >= bound * (1 - 1e-9), p.policy


def test_busy_never_exceeds_reserved(small: Scenario) -> None:
    result = simulate(small, days=1, seed=2)
    for p in result.policies.values():
        assert np.all(p.busy_site_hourly <= p.util_site_hourly + 1e-12)
        assert np.all(p.busy_site_hourly >= 0)


def test_the_bound_counts_only_the_tokens_it_can_serve(small: Scenario) -> None:
    from dataclasses import replace

    served = simulate(small, days=1, seed=1, policies=["suanli"])
    assert served.bound is not None and served.bound.unserved_request_hours == 0
    req = served.demand.requests
    demanded = float((req.prompt_tokens + req.output_tokens).sum()) * small.request_scale
    assert served.bound.tokens == pytest.approx(demanded, rel=1e-9)
    # No GPU type meets a 3 ms TTFT: nothing can be served, and the bound claims no tokens.
    impossible = replace(small, workloads=(replace(small.workloads[0], ttft_p95_ms=3.0),))
    none = simulate(impossible, days=1, seed=1, policies=["suanli"])
    assert none.bound is not None
    assert none.bound.tokens == 0 and none.bound.unserved_request_hours > 0
