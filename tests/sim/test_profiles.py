"""The simulator's replica profiles are perf.sizing's: one definition of max batch,
throughput, TPOT, headroom and TTFT with queueing."""

from __future__ import annotations

import pytest

from suanli import catalog
from suanli.catalog.traces import builtin_trace
from suanli.perf.sizing import ServeRequest, size
from suanli.sim import load_scenario
from suanli.sim.profiles import PERCENTILE
from suanli.sim.world import World, build_world


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(load_scenario("china-2025"))


def test_every_profile_equals_sizing_for_its_workload_gpu_and_tp(world: World) -> None:
    sc = world.scenario
    checked = 0
    for work, profiles in zip(sc.workloads, world.profiles, strict=True):
        assert profiles, f"{work.name}: no GPU type can serve it"
        for gpu, prof in profiles.items():
            replicas = 10
            left = work.ttft_p95_ms - prof.ttft_ms
            assert left >= 5.0 - 1e-6
            # Where TTFT binds, the profile lowered its load to keep a network reserve: give
            # sizing the same reserve, and it must add replicas to the same load.
            binds = prof.rps < prof.capacity_rps * (1 - sc.headroom) * (1 - 1e-9)
            request = ServeRequest(
                model=work.model,
                rate_per_s=replicas * prof.rps,
                ttft_ms=work.ttft_p95_ms,
                tpot_ms=work.tpot_p95_ms,
                trace=builtin_trace(work.trace),
                percentile=PERCENTILE,
                headroom=sc.headroom,
                precision=work.precision,  # type: ignore[arg-type]
                network_rtt_ms=left - 1e-6 if binds else 0.0,
            )
            sizing = size(request, [catalog.gpu(gpu)], {gpu: 10.0}, heterogeneous=False)
            same_tp = [c for c in sizing.configs if c.tp == prof.gpus_per_replica]
            assert same_tp, f"{work.name} on {gpu}: sizing rejects TP={prof.gpus_per_replica}"
            c = same_tp[0]
            assert c.max_batch == prof.max_batch
            assert c.throughput_rps_per_replica == pytest.approx(prof.capacity_rps, rel=1e-9)
            assert c.tpot_ms == pytest.approx(prof.tpot_ms, rel=1e-9)
            assert c.decode_step_ms == pytest.approx(prof.step_ms, rel=1e-9)
            assert c.replicas == replicas
            assert c.ttft_ms == pytest.approx(prof.ttft_ms, rel=1e-6)
            # Sizing's headroom: the planned rate is at most capacity x (1 - headroom).
            assert prof.rps <= prof.capacity_rps * (1 - sc.headroom) * (1 + 1e-9)
            # The TP kept is sizing's cheapest for this type at this rate.
            assert c.gpus == min(x.gpus for x in sizing.configs)
            checked += 1
    assert checked >= 10


def test_types_sizing_rejects_are_left_out(world: World) -> None:
    sc = world.scenario
    for work, profiles in zip(sc.workloads, world.profiles, strict=True):
        for gpu in sc.gpu_types:
            if gpu in profiles:
                continue
            request = ServeRequest(
                model=work.model,
                rate_per_s=10.0,
                ttft_ms=work.ttft_p95_ms,
                tpot_ms=work.tpot_p95_ms,
                trace=builtin_trace(work.trace),
                headroom=sc.headroom,
                precision=work.precision,  # type: ignore[arg-type]
                network_rtt_ms=5.0,
            )
            try:
                sizing = size(request, [catalog.gpu(gpu)], {gpu: 10.0}, heterogeneous=False)
            except Exception:
                continue
            ok = [
                c
                for c in sizing.configs
                if work.calls_per_task == 1 and work.ttft_p95_ms - c.ttft_ms >= 5.0
            ]
            assert not ok, f"{work.name} on {gpu}: sizing serves it but the simulator left it out"
