"""Fabrics as an enumeration, sites before cities, the gap on cost alone, and a repair step
bounded by nodes (not seconds)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from suanli.catalog import site as catalog_site
from suanli.catalog.geography import city
from suanli.errors import InvalidRequest
from suanli.geo import rtt_ms
from suanli.placement import GangDemand, Offer, place
from suanli.placement.build import build_problem
from suanli.placement.fast import solve_fast
from suanli.placement.generate import generate
from suanli.placement.model import FABRICS, Link, parse_fabric
from suanli.placement.repair import repair
from suanli.placement.result import Placement, Solution


def test_every_fabric_name_parses_and_nothing_else_does() -> None:
    assert len(FABRICS) == 6
    for name in FABRICS:
        fabric = parse_fabric(name.upper())
        assert fabric.name == name
        assert fabric.rdma == (fabric.inter in (Link.IB, Link.ROCE))
    for bad in ("eth-fiber", "fiber", "ib", "nvlink", "nvlink-ib-x", "", "nvlink-fib"):
        with pytest.raises(InvalidRequest):
            parse_fabric(bad)


def test_api_fabrics_are_the_placement_fabrics() -> None:
    from typing import get_args

    from suanli.inputs import Fabric

    assert set(get_args(Fabric)) == set(FABRICS)


def test_an_unknown_offer_fabric_names_the_offer_and_field() -> None:
    with pytest.raises(InvalidRequest) as err:
        place([], [Offer("o1", "guian", "H100", 16, 8, 9.0, fabric="eth-fiber")])
    assert err.value.field == "fabric" and "o1" in err.value.message


@pytest.mark.parametrize(
    ("fabric", "placed"),
    [("nvlink-ib", True), ("nvlink-roce", True), ("nvlink-eth", False), ("pcie-eth", False)],
)
def test_multi_node_gangs_need_rdma(fabric: str, placed: bool) -> None:
    plan = place(
        [GangDemand("g", 16, ("H100",))], [Offer("o", "guian", "H100", 16, 8, 9.0, fabric)]
    )
    assert ("g" in plan.assignments) == placed
    if not placed:
        assert "fabric" in plan.unplaced["g"]


def test_gang_fabric_choices_match_whole_links() -> None:
    offers = [
        Offer("roce", "guian", "H100", 8, 8, 1.0, fabric="pcie-roce"),
        Offer("ib", "guian", "H100", 8, 8, 9.0, fabric="nvlink-ib"),
    ]
    plan = place([GangDemand("g", 8, ("H100",), fabrics=("ib",))], offers)
    assert [a.offer_id for a in plan.assignments["g"]] == ["ib"]
    with pytest.raises(InvalidRequest) as err:
        place([GangDemand("g", 8, ("H100",), fabrics=("fiber",))], offers)
    assert err.value.field == "fabrics"


def test_an_offer_at_a_site_that_shares_a_city_name_is_at_the_site() -> None:
    from suanli.placement.build import rtt_block

    got = rtt_block(None, ["shanghai"], ["chongqing"])[0, 0]
    at_site = rtt_ms(city("shanghai"), catalog_site("chongqing"))
    at_city = rtt_ms(city("shanghai"), city("chongqing"))
    assert at_site != at_city  # the two places differ, so the test can tell them apart
    assert got == pytest.approx(at_site)


def _placement(lower_bound: float, lp_unplaced: int, place_both: bool) -> Placement:
    offers = [Offer("o", "guian", "H100", 16, 8, 10.0)]
    problem = build_problem([GangDemand("a", 8, ("H100",)), GangDemand("b", 8, ("H100",))], offers)
    groups = [0, 1] if place_both else [0]
    solution = Solution(
        group=np.array(groups),
        offer=np.zeros(len(groups), dtype=np.int64),
        units=np.ones(len(groups), dtype=np.int64),
        chosen_alt=np.array([0, 1 if place_both else -1]),
        method="fast",
        status="heuristic",
        lower_bound=lower_bound,
        lp_unplaced_gpus=lp_unplaced,
    )
    return Placement(problem, solution)


def test_the_gap_is_on_cost_alone() -> None:
    plan = _placement(lower_bound=150.0, lp_unplaced=0, place_both=True)  # cost 160
    assert plan.cost_value == pytest.approx(160.0)
    assert plan.gap == pytest.approx(160 / 150 - 1)
    assert plan.unplaced_gpus == 0 and plan.unplaced_gpus_bound == 0
    summary = plan.summary()
    assert summary["gap"] == pytest.approx(plan.gap)


def test_unplaced_gpus_are_reported_apart_from_the_cost_gap() -> None:
    penalty = _placement(0.0, 0, True).problem.penalty_per_gpu
    # The bound leaves 8 GPUs unplaced at cost 70; the plan leaves 8 unplaced at cost 80.
    plan = _placement(lower_bound=70.0 + 8 * penalty, lp_unplaced=8, place_both=False)
    assert plan.unplaced_gpus == 8 and plan.unplaced_gpus_bound == 8
    assert plan.cost_lower_bound == pytest.approx(70.0)
    assert plan.gap == pytest.approx(80 / 70 - 1)
    # On the objective the same plan looks far closer: penalties dwarf the cost.
    assert plan.gap is not None and plan.objective_gap is not None
    assert plan.objective_gap < plan.gap / 10
    # A plan that leaves more GPUs unplaced than the bound has no comparable cost gap.
    worse = _placement(lower_bound=160.0, lp_unplaced=0, place_both=False)
    assert worse.unplaced_gpus == 8 and worse.unplaced_gpus_bound == 0
    assert worse.gap is None


def test_repair_has_no_clock() -> None:
    assert not any("time" in name for name in inspect.signature(repair).parameters)


def test_fast_plans_are_the_same_every_time() -> None:
    problem = generate(30, 600, seed=4)
    first, second = solve_fast(problem), solve_fast(problem)
    for name in ("group", "offer", "units", "chosen_alt"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
