"""The array entry point for serving costs no more than 0.5% above suanli.placement.place on
generated hours, never leaves demand out silently, and raises when its solver fails."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.errors import Unavailable
from suanli.placement import serving
from suanli.placement.serving import place_serving
from suanli.sim import load_scenario
from suanli.sim.demand import generate_demand
from suanli.sim.engine import SECONDS_PER_HOUR
from suanli.sim.policies import feasible, place_serving_with_engine
from suanli.sim.world import World, build_world


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(load_scenario("china-2025"))


def _cost(world: World, replicas: np.ndarray, ask: np.ndarray) -> float:
    gpus = np.einsum("cwsg,wg->sg", replicas, world.gpus_per_replica)
    return float((gpus * ask).sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_costs_within_half_a_percent_of_the_placement_engine(world: World, seed: int) -> None:
    sc = world.scenario
    demand = generate_demand(sc, days=1, seed=seed)
    rate = demand.counts * sc.request_scale / SECONDS_PER_HOUR
    rng = np.random.default_rng(seed)
    for hour in (3, 12, 21):
        # Scarce capacity and uneven asks, so the choice matters.
        scarce = (world.inventory - world.base) * rng.uniform(0.2, 0.6, world.inventory.shape)
        free = scarce.astype(np.int64)
        ask = world.ask0 * rng.uniform(0.8, 1.2, world.ask0.shape)
        need = rate[hour]
        ok = feasible(world, ask)
        ours = place_serving(need, free, ask, world.gpus_per_replica, world.rps, ok).replicas
        engine = place_serving_with_engine(world, need, free, ask)
        for replicas in (ours, engine):
            used = np.einsum("cwsg,wg->sg", replicas, world.gpus_per_replica)
            assert np.all(used <= free)
            assert np.all(replicas[~ok] == 0)
        served = np.einsum("cwsg,wg->cw", ours, world.rps)
        served_engine = np.einsum("cwsg,wg->cw", engine, world.rps)
        # Both serve every buyer's need in full, so their costs compare like for like.
        assert np.all(served >= need - 1e-9)
        assert np.all(served_engine >= need - 1e-9)
        assert _cost(world, ours, ask) <= _cost(world, engine, ask) * 1.005


def test_a_solver_failure_raises_not_an_empty_placement(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failed:
        status, x, fun, message = 4, None, None, "numerical difficulties"

    monkeypatch.setattr(serving, "linprog", lambda *a, **k: Failed())
    need = np.ones((len(world.cities), len(world.profiles)))
    with pytest.raises(Unavailable):
        place_serving(
            need,
            world.inventory - world.base,
            world.ask0,
            world.gpus_per_replica,
            world.rps,
            feasible(world, world.ask0),
        )


def test_demand_beyond_capacity_is_reported_unserved(world: World) -> None:
    need = np.full((len(world.cities), len(world.profiles)), 1e6)
    plan = place_serving(
        need,
        world.inventory - world.base,
        world.ask0,
        world.gpus_per_replica,
        world.rps,
        feasible(world, world.ask0),
    )
    assert plan.lp_unserved_rps > 0
    used = np.einsum("cwsg,wg->sg", plan.replicas, world.gpus_per_replica)
    assert np.all(used <= world.inventory - world.base)
