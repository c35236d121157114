"""Hand-off files run: the real parsers accept them, and they request the GPUs bought.

SkyPilot tasks go through SkyPilot's own loader (``sky.Task.from_yaml``, which checks the
task schema) and SkyServe's service check; Kubernetes objects through the Kubernetes
OpenAPI schema in strict mode (``kubernetes-validate``). Placements cover every catalog GPU,
every demand kind, serving replicas spanning two nodes, gangs of whole nodes and ids too long
or too odd to be names.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import numpy as np
import pytest
import yaml

from suanli.catalog import gpus
from suanli.catalog.gpu_labels import all_gpu_labels, gpu_labels
from suanli.errors import InvalidRequest
from suanli.placement import (
    BatchDemand,
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
    ServeOption,
    place,
)
from suanli.placement.export import MAX_NAME, export, object_name
from suanli.placement.model import Demand
from suanli.placement.result import Placement

RTT = RttTable(("shanghai", "chengdu"), ("east", "west"), np.array([[3.0, 40.0], [38.0, 4.0]]))
LONG = "inference-for-the-provincial-customer-service-assistant-with-a-very-long-name-" * 2
K8S_VERSION = "1.37.0"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _demands(gpu: str) -> list[Demand]:
    both = (("shanghai", 1.0), ("chengdu", 1.0))
    budget = {"shanghai": 10.0, "chengdu": 10.0}
    return [
        # two 16-GPU replicas, one per region: two sites, each replica two 8-GPU nodes
        ServeDemand(f"{LONG}{gpu}", (ServeOption(gpu, 16, 2, both, budget),)),
        ServeDemand(f"Chat {gpu}", (ServeOption(gpu, 1, 3, both[:1], budget),)),
        ServeDemand(f"chat-{gpu}", (ServeOption(gpu, 2, 2, both[1:], budget),)),
        GangDemand(f"train-{gpu}", 12, (gpu,)),  # two whole 8-GPU nodes
        GangDemand(f"tune-{gpu}", 3, (gpu,)),  # three GPUs take one whole node
        BatchDemand(f"batch-{gpu}", 40.0, (gpu,), deadline_h=10.0),  # four one-GPU pods
    ]


@cache
def _plan(gpu_names: tuple[str, ...]) -> Placement:
    offers = [
        Offer(f"{site}-{g}", site, g, 128, 8, 10.0 + i)
        for i, g in enumerate(gpu_names)
        for site in ("east", "west")
    ]
    demands = [d for g in gpu_names for d in _demands(g)]
    plan = place(demands, offers, RTT)
    assert plan.placed_count == len(demands)
    return plan


ALL = tuple(g.name for g in gpus())
SKYPILOT = tuple(g for g in ALL if gpu_labels(g).skypilot_accelerator)


def _bought(plan: Placement) -> dict[str, int]:
    return {d: sum(a.gpus for a in rows) for d, rows in plan.assignments.items()}


def test_every_catalog_gpu_has_cluster_names_with_a_source() -> None:
    assert set(all_gpu_labels()) == set(ALL)
    for g in ALL:
        labels = gpu_labels(g)
        assert labels.source and labels.node_label_value and labels.k8s_resource
    assert gpu_labels("H100").node_label_value == "NVIDIA-H100-80GB-HBM3"
    assert gpu_labels("Ascend-910B").k8s_resource == "huawei.com/Ascend910"
    assert gpu_labels("A800").skypilot_accelerator == "A800"
    assert gpu_labels("RTX 4090").skypilot_accelerator == "RTX4090"


def _k8s_docs(plan: Placement) -> dict[str, list[dict[str, Any]]]:
    return {name: list(yaml.safe_load_all(text)) for name, text in export(plan, "k8s").items()}


@pytest.mark.slow
def test_kubernetes_objects_pass_the_openapi_schema_and_request_what_was_bought() -> None:
    plan = _plan(ALL)
    files = _k8s_docs(plan)
    assert len(files) == len(plan.assignments)  # one file per demand, none overwritten
    requested: dict[str, int] = defaultdict(int)
    per_offer: dict[tuple[str, str], int] = defaultdict(int)
    names: list[tuple[str, str]] = []
    for docs in files.values():
        for doc in docs:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            meta = doc["metadata"]
            names.append((doc["kind"], meta["name"]))
            assert DNS_LABEL.fullmatch(meta["name"]) and len(meta["name"]) <= MAX_NAME
            if doc["kind"] == "Service":
                continue
            spec = doc["spec"]
            pods = spec["parallelism"] if doc["kind"] == "Job" else spec["replicas"]
            pod = spec["template"]["spec"]
            gpu = meta["annotations"]["suanli.io/gpu"]
            labels = gpu_labels(gpu)
            limits = pod["containers"][0]["resources"]["limits"]
            assert list(limits) == [labels.k8s_resource]
            assert pod["nodeSelector"][labels.node_label_key] == labels.node_label_value
            key = (
                meta["annotations"]["suanli.io/demand-id"],
                meta["annotations"]["suanli.io/offer-id"],
            )
            requested[key[0]] += pods * limits[labels.k8s_resource]
            per_offer[key] += pods * limits[labels.k8s_resource]
    assert len(set(names)) == len(names)  # one namespace holds them all
    assert dict(requested) == _bought(plan)
    for demand_id, rows in plan.assignments.items():
        for a in rows:
            assert per_offer[(demand_id, a.offer_id)] >= a.gpus


def test_kubernetes_shapes_follow_the_placement() -> None:
    plan = _plan(("H100-SXM", "Ascend-910B"))
    docs = [d for ds in _k8s_docs(plan).values() for d in ds]

    def of(demand_id: str, kind: str) -> list[dict[str, Any]]:
        return [
            d
            for d in docs
            if d["kind"] == kind
            and d["metadata"]["annotations"]["suanli.io/demand-id"] == demand_id
        ]

    big = of(f"{LONG}H100-SXM", "StatefulSet")
    assert len(big) == 2  # one per 16-GPU replica, each over two 8-GPU nodes
    for sts in big:
        assert sts["spec"]["replicas"] == 2
        limits = sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {"nvidia.com/gpu": 8}
        assert sts["spec"]["serviceName"] == sts["metadata"]["name"]
    assert {s["metadata"]["name"] for s in of(f"{LONG}H100-SXM", "Service")} == {
        s["metadata"]["name"] for s in big
    }
    assert not of(f"{LONG}H100-SXM", "Deployment")
    (train,) = of("train-H100-SXM", "Job")
    assert train["spec"]["parallelism"] == train["spec"]["completions"] == 2
    assert train["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (batch,) = of("batch-H100-SXM", "Job")  # finished work stays finished
    assert batch["spec"]["parallelism"] == 4 and not of("batch-H100-SXM", "Deployment")
    (tune,) = of("tune-Ascend-910B", "Job")
    pod = tune["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"huawei.com/Ascend910": 8}
    assert pod["nodeSelector"]["accelerator-type"] == "module-910b-8"
    assert "nvidia.com/gpu.product" not in pod["nodeSelector"]


def _load_sky(tmp_path: Path, name: str, text: str) -> Any:
    sky = pytest.importorskip("sky")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return sky.Task.from_yaml(str(path))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SkyPilot's own imports warn
def test_skypilot_tasks_load_in_skypilot_and_request_what_was_bought(tmp_path: Path) -> None:
    from sky.serve import serve_utils

    plan = _plan(SKYPILOT)
    files = export(plan, "skypilot")
    assert len(files) == sum(len(rows) for rows in plan.assignments.values())
    requested: dict[str, int] = defaultdict(int)
    for name, text in files.items():
        assert DNS_LABEL.fullmatch(name.removesuffix(".yaml"))
        task = _load_sky(tmp_path, name, text)
        (resources,) = task.resources
        ((accelerator, per_node),) = resources.accelerators.items()
        replicas = 1
        if task.service is not None:
            serve_utils.validate_service_task(task, pool=False)
            replicas = task.service.min_replicas
        requested[task.envs["SUANLI_DEMAND"]] += replicas * task.num_nodes * int(per_node)
        gpu = next(a.gpu for a in plan.assignments[task.envs["SUANLI_DEMAND"]])
        assert accelerator == gpu_labels(gpu).skypilot_accelerator
    assert dict(requested) == _bought(plan)
    big = yaml.safe_load(next(t for n, t in files.items() if n.startswith("inference")))
    assert big["num_nodes"] == 2 and big["resources"]["accelerators"] == "H100:8"
    assert big["service"]["replicas"] == 1  # the other replica is at the other site


def test_skypilot_refuses_gpus_it_cannot_request() -> None:
    plan = _plan(("Ascend-910B",))
    with pytest.raises(InvalidRequest, match="SkyPilot cannot request") as caught:
        export(plan, "skypilot")
    assert "k8s" in (caught.value.hint or "")


def test_names_are_unique_valid_and_stable() -> None:
    keys = [
        (LONG + "a", "east", "0"),
        (LONG + "b", "east", "0"),
        ("Chat", "east", "0"),
        ("chat", "east", "0"),
        ("a-b", "c", "0"),
        ("a", "b-c", "0"),
    ]
    from suanli.placement.export import _unique

    names = _unique(keys)
    assert len(set(names)) == len(names)
    assert all(DNS_LABEL.fullmatch(n) and len(n) <= MAX_NAME for n in names)
    assert names[3] == "chat-east-0"  # valid ids stay readable
    assert names == _unique(keys)  # the same ids, the same names
    assert object_name(LONG) != object_name(LONG + "x")
    first = export(_plan(("L40S",)), "k8s")
    _plan.cache_clear()
    assert export(_plan(("L40S",)), "k8s") == first


def test_every_demand_kind_and_gpu_is_exported() -> None:
    plan = _plan(ALL)
    kinds = Counter(plan.explanations[d].kind for d in plan.assignments)
    assert set(kinds) == {"serve", "gang", "batch"}
    assert {a.gpu for rows in plan.assignments.values() for a in rows} == set(ALL)
