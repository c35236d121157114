"""Objective options: power-price weight and maximum number placed; latency from the model."""

from __future__ import annotations

import pytest

from suanli.geo import LatencyModel
from suanli.placement import BatchDemand, GangDemand, Offer, ServeDemand, ServeOption, place
from suanli.placement.verify import violations


def test_power_weight_moves_work_to_cheap_power() -> None:
    offers = [
        Offer("metro", "shanghai-metro", "H100", 8, 8, 10.0),  # 0.70 CNY/kWh, PUE 1.3
        Offer("west", "zhongwei", "H100", 8, 8, 10.2),  # 0.36 CNY/kWh, PUE 1.2
    ]
    job = [BatchDemand("b", gpu_hours=80, gpu_types=("H100",), deadline_h=10)]
    assert place(job, offers).assignments["b"][0].offer_id == "metro"
    weighted = place(job, offers, power_weight=1.0)
    assert weighted.assignments["b"][0].offer_id == "west"
    assert weighted.total_cost_cny_per_hour == pytest.approx(8 * 10.2)  # listed prices


def test_objective_placed_prefers_more_demands_over_more_gpus() -> None:
    offers = [Offer("o", "guian", "A800", 8, 8, 5.0)]
    demands = [
        GangDemand("big", 8, ("A800",)),
        GangDemand("small-1", 4, ("A800",)),
        GangDemand("small-2", 2, ("A800",)),
        GangDemand("small-3", 2, ("A800",)),
    ]
    by_gpus = place(demands, offers, objective="cost")
    by_count = place(demands, offers, objective="placed")
    assert by_count.placed_count == 3 and "big" in by_count.unplaced
    assert by_gpus.placed_count >= 1
    assert violations(by_count) == [] and violations(by_gpus) == []


def test_latency_model_with_catalog_sites() -> None:
    offers = [
        Offer("near", "yrd-qingpu", "H100", 8, 8, 14.0),
        Offer("far", "zhongwei", "H100", 8, 8, 9.0),
    ]
    regions = (("shanghai", 1.0),)
    demand = ServeDemand("s", (ServeOption("H100", 1, 2, regions, {"shanghai": 10.0}),))
    plan = place([demand], offers, LatencyModel())
    assert plan.assignments["s"][0].offer_id == "near"
    loose = ServeDemand("s", (ServeOption("H100", 1, 2, regions, {"shanghai": 60.0}),))
    assert place([loose], offers, LatencyModel()).assignments["s"][0].offer_id == "far"


@pytest.mark.parametrize("method", ["milp", "fast"])
def test_empty_inputs_and_no_offers(method: str) -> None:
    assert place([], [], method=method).placed_count == 0  # type: ignore[arg-type]
    plan = place([GangDemand("g", 8, ("H100",))], [], method=method)  # type: ignore[arg-type]
    assert plan.unplaced["g"].startswith("capacity")
