"""Hand-off files parse as YAML with the right resources; explanations say why."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from suanli.placement import (
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
    ServeOption,
    demands_from_sizing,
    place,
)
from suanli.placement.export import export

RTT = RttTable(("shanghai", "chengdu"), ("east", "west"), np.array([[3.0, 40.0], [38.0, 4.0]]))
OFFERS = [
    Offer("east-h100", "east", "H100", 8, 8, 14.0),
    Offer("west-h100", "west", "H100", 32, 8, 9.0),
    Offer("west-l40s", "west", "L40S", 16, 8, 4.0, fabric="pcie-eth"),
]


def _serve(budget: float, regions: tuple[tuple[str, float], ...]) -> ServeDemand:
    return ServeDemand(
        "chat",
        (ServeOption("H100", 1, 4, regions, {c: budget for c, _ in regions}),),
    )


def test_split_by_region_when_no_site_serves_both() -> None:
    plan = place([_serve(10.0, (("shanghai", 1.0), ("chengdu", 1.0)))], OFFERS, RTT)
    rows = plan.assignments["chat"]
    assert {a.site for a in rows} == {"east", "west"}
    assert sum(a.replicas for a in rows) == 4
    for a in rows:  # each replica serves only the region it is near
        assert len(a.rtt_ms) == 1 and max(a.rtt_ms.values()) <= 10.0


def test_explanation_lists_chosen_and_rejected_with_reasons() -> None:
    demands: list[Any] = [_serve(10.0, (("shanghai", 1.0),)), GangDemand("train", 16, ("H100",))]
    plan = place(demands, OFFERS, RTT)
    ex = plan.explanations["chat"]
    assert ex.placed and ex.considered == 3
    assert [a.offer_id for a in ex.chosen] == ["east-h100"]
    assert ex.chosen[0].rtt_ms == {"shanghai": 3.0}
    reasons = {r.offer_id: r.reason for r in ex.rejected}
    assert reasons == {"west-h100": "latency", "west-l40s": "gpu_type"}
    gang = plan.explanations["train"]
    assert {r.offer_id: r.reason for r in gang.rejected} == {
        "east-h100": "capacity",
        "west-l40s": "gpu_type",
    }


def test_unplaced_demand_has_its_binding_reason() -> None:
    too_far = _serve(1.0, (("shanghai", 1.0),))
    too_big = GangDemand("huge", 64, ("H100",))
    cheap = GangDemand("cheap", 8, ("H100",), max_price_cny_per_gpu_hour=5.0)
    plan = place([too_far, too_big, cheap], OFFERS, RTT)
    assert plan.unplaced["chat"].startswith("latency")
    assert plan.unplaced["huge"].startswith("capacity")
    assert plan.unplaced["cheap"].startswith("price")
    assert plan.explanations["cheap"].reason == plan.unplaced["cheap"]


@pytest.mark.parametrize("fmt", ["skypilot", "k8s"])
def test_export_writes_parseable_manifests(fmt: str) -> None:
    demands: list[Any] = [_serve(10.0, (("shanghai", 1.0),)), GangDemand("train", 16, ("H100",))]
    plan = place(demands, OFFERS, RTT)
    files = export(plan, fmt)  # type: ignore[arg-type]
    docs = {name: list(yaml.safe_load_all(text)) for name, text in files.items()}
    assert docs
    if fmt == "k8s":
        deploy = docs["chat.yaml"][0]
        assert deploy["kind"] == "Deployment" and deploy["spec"]["replicas"] == 4
        pod = deploy["spec"]["template"]["spec"]
        assert pod["nodeSelector"]["suanli.io/site"] == "east"
        assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        job = docs["train.yaml"][1]  # after its headless Service
        assert job["kind"] == "Job" and job["spec"]["parallelism"] == 2
    else:
        tasks = [d[0] for d in docs.values()]
        serve = next(t for t in tasks if "service" in t)
        assert serve["resources"]["accelerators"] == "H100:1"
        assert serve["service"]["replicas"] == 4
        assert serve["resources"]["infra"] == "k8s/east"
        gang = next(t for t in tasks if "service" not in t)
        assert gang["num_nodes"] == 2 and gang["resources"]["accelerators"] == "H100:8"


def test_demands_from_sizing_budget_is_target_minus_ttft() -> None:
    def config(gpu: str, ttft: float) -> SimpleNamespace:
        return SimpleNamespace(gpu=gpu, gpus_per_replica=2, replicas=3, ttft_ms=ttft)

    sizing = SimpleNamespace(
        request=SimpleNamespace(ttft_ms=800.0),
        configs=(config("H100-SXM", 500.0), config("H100-SXM", 450.0), config("L20", 810.0)),
    )
    demand = demands_from_sizing("q", sizing, [("shanghai", 2.0)])  # type: ignore[arg-type]
    assert len(demand.options) == 1  # L20 leaves no network time; second H100 is costlier
    opt = demand.options[0]
    assert opt.rtt_budget_ms == {"shanghai": 300.0}
    assert (opt.gpu, opt.gpus_per_replica, opt.replicas) == ("H100-SXM", 2, 3)


def test_gang_rules_node_size_fabric_window_and_interruptible() -> None:
    offers = [
        Offer("pcie", "west", "H100", 64, 8, 1.0, fabric="pcie-eth"),  # no RDMA between nodes
        Offer("later", "west", "H100", 64, 8, 2.0, start_h=5.0),  # not available from 0 h
        Offer("spot", "west", "H100", 64, 8, 3.0, interruptible=True),
        Offer("ib", "east", "H100", 64, 8, 9.0),
    ]
    plan = place([GangDemand("g", 12, ("H100",), hours=2.0)], offers, RTT)
    (a,) = plan.assignments["g"]
    assert a.offer_id == "ib" and a.gpus == 16  # 12 GPUs take two whole 8-GPU nodes
    assert a.cost_cny_per_hour == 16 * 9.0
    reasons = {r.offer_id: r.reason for r in plan.explanations["g"].rejected}
    assert reasons == {"pcie": "fabric", "later": "window", "spot": "interruptible"}
    small = place([GangDemand("s", 4, ("H100",))], offers, RTT)
    assert small.assignments["s"][0].offer_id == "pcie"  # one node: PCIe is fine
    weak = place(
        [GangDemand("w", 8, ("L40S", "H100"), min_interconnect_gb_s=400.0)],
        [Offer("l40s", "west", "L40S", 8, 8, 1.0, fabric="pcie-eth"), *offers],
        RTT,
    )
    assert weak.assignments["w"][0].gpu == "H100-SXM"
