"""The built-in China 2025 scenario reproduces the reported starting state under
nearest-site placement, and Suanli puts idle western capacity to work within the SLOs."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.sim import SimResult, load_scenario, simulate
from suanli.sim.summary import utilization_summary


@pytest.fixture(scope="module")
def run() -> SimResult:
    return simulate(load_scenario("china-2025"), days=2, seed=0)


def test_every_workload_has_several_gpu_types_from_the_perf_model(run: SimResult) -> None:
    for profiles in run.world.profiles:
        assert len(profiles) >= 3
        for p in profiles.values():
            assert p.rps > 0 and p.max_batch >= 1
            assert p.source.startswith("suanli.perf")


def test_nearest_site_reproduces_the_starting_state(run: SimResult) -> None:
    near = utilization_summary(run, run.policies["nearest"])
    assert 0.20 <= near["western_hubs"] <= 0.35
    assert near["metro"] >= 0.85
    h100 = run.world.gpu_types.index("H100-SXM")
    first_day = run.policies["nearest"].price_index_daily[0, h100]
    assert first_day == pytest.approx(12.8, rel=0.1)  # 75,000 CNY per 8-GPU server-month


def test_suanli_fills_western_hubs_without_breaking_slos(run: SimResult) -> None:
    near, suanli = run.policies["nearest"], run.policies["suanli"]
    u_near = utilization_summary(run, near)["western_hubs"]
    u_suanli = utilization_summary(run, suanli)["western_hubs"]
    assert u_suanli > u_near + 0.05
    for spec in run.scenario.workloads:
        row = suanli.slo_for(spec.name)
        assert row.ttft_p95_ms <= spec.ttft_p95_ms
        assert row.tpot_p95_ms <= spec.tpot_p95_ms
        assert row.attainment >= 0.95
    assert suanli.cost_cny_per_million_tokens["all"] < near.cost_cny_per_million_tokens["all"]
    assert np.isfinite(suanli.price_index_daily).any()


def test_voice_and_agent_classes_are_served_with_their_own_targets(run: SimResult) -> None:
    names = [w.name for w in run.scenario.workloads]
    assert {"voice", "agent"} <= set(names)
    for spec, profiles in zip(run.scenario.workloads, run.world.profiles, strict=True):
        assert profiles, spec.name
        assert spec.source, f"{spec.name} names no source"
        for p in profiles.values():
            assert p.ttft_ms + p.rtt_budget_ms <= spec.ttft_p95_ms + 1e-6
    agent = next(w for w in run.scenario.workloads if w.name == "agent")
    assert agent.calls_per_task > 1 and agent.task_p95_ms > 0
    row = run.policies["suanli"].slo_for("agent")
    assert row.task_target_ms == agent.task_p95_ms
    assert row.task_p95_ms >= agent.calls_per_task * row.ttft_p50_ms * 0.5
    for site in run.scenario.sites:
        assert site.source, f"{site.id} names no source"
