"""Hand-off: a placement as files a buyer can run, requesting exactly the GPUs it bought.

Each assignment (units of one demand on one offer) becomes one node group per unit. A unit
of k GPUs on an offer with nodes of n GPUs takes k GPUs of one node when k divides n, else
``ceil(k / n)`` whole nodes (the placement's footprint): so a 16-GPU serving replica on
8-GPU nodes spans two nodes of 8 GPUs.

* **SkyPilot**: one task YAML per assignment, the site as the Kubernetes context
  (``infra: k8s/<site>``), ``accelerators`` in SkyPilot's own names (``H100``, ``A800``,
  ``RTX4090``), ``num_nodes`` the nodes of one unit; serving units are SkyServe replicas,
  gang and batch units are the task's nodes. SkyPilot cannot request Ascend NPUs: such a
  demand is refused with a hint to export for Kubernetes.
* **Kubernetes**: one multi-document YAML per placed demand. Serving replicas on one node are
  a Deployment; a replica spanning several nodes is a StatefulSet of its nodes with a headless
  Service for rendezvous (one per replica: pods ``<name>-0`` .. ``<name>-(n-1)``); gang jobs
  are an indexed Job with a headless Service; batch work is an indexed Job of one-GPU pods
  (finished work stays finished). Pods request the GPU's device-plugin resource
  (``nvidia.com/gpu`` or ``huawei.com/Ascend910``) and select nodes by site
  (``suanli.io/site``), offer (``suanli.io/offer``) and the product label that NVIDIA's GPU
  feature discovery or Huawei's device plugin put on nodes (``catalog/data/gpu_labels.csv``).

Names are DNS-1123 labels of at most 52 characters (room for the suffixes controllers add),
readable when the ids already are, else shortened with a hash of the exact ids: unique and
the same for the same placement. Exact ids travel in annotations and environment variables.

Pure: returns file names and text; the CLI writes them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from suanli.catalog.gpu_labels import GpuLabels, gpu_labels
from suanli.errors import InvalidRequest
from suanli.placement.result import Assignment, Placement

ExportFormat = Literal["skypilot", "k8s"]

MAX_NAME = 52
MAX_LABEL = 63
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def object_name(*parts: str, max_len: int = MAX_NAME, hashed: bool = False) -> str:
    """A DNS-1123 label naming ``parts``: ``a-b-c`` when that already is a valid label of at
    most ``max_len`` characters, else a readable prefix and 8 hex digits of a hash of the
    exact parts (so ids differing only in case or punctuation get different names)."""
    plain = "-".join(parts)
    if not hashed and len(plain) <= max_len and _DNS_LABEL.fullmatch(plain):
        return plain
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8]
    head = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[: max_len - 9].rstrip("-")
    return f"{head}-{digest}" if head else f"x-{digest}"


def label_value(text: str) -> str:
    """A Kubernetes label value for an id: the id itself when valid, else a hashed name."""
    if len(text) <= MAX_LABEL and _LABEL_VALUE.fullmatch(text):
        return text
    return object_name(text, max_len=MAX_LABEL, hashed=True)


def _unique(keys: Sequence[tuple[str, ...]], max_len: int = MAX_NAME) -> list[str]:
    """Names for keys, hashed where two different keys would read the same."""
    names = [object_name(*k, max_len=max_len) for k in keys]
    clash = {n for n, c in Counter(names).items() if c > 1}
    if clash:
        names = [
            object_name(*k, max_len=max_len, hashed=True) if n in clash else n
            for k, n in zip(keys, names, strict=True)
        ]
    if len(set(names)) != len(names):  # a hash collision among clashing names
        raise InvalidRequest("export names collide", field="demand_id")
    return names


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """What one assignment asks a cluster for: ``replicas`` units, each ``nodes`` nodes of
    ``gpus_per_node`` GPUs; ``gpus`` in all (equal to the GPUs the placement bought)."""

    replicas: int
    nodes: int
    gpus_per_node: int

    @property
    def gpus(self) -> int:
        return self.replicas * self.nodes * self.gpus_per_node


def node_group(a: Assignment, gpus_per_node: int, footprint: int) -> NodeGroup:
    """The node shape of an assignment on an offer with nodes of ``gpus_per_node`` GPUs,
    where one unit takes ``footprint`` GPUs (the placement's rule)."""
    k = a.gpus_per_replica
    per_node = k if footprint == k and k <= gpus_per_node else gpus_per_node
    group = NodeGroup(a.replicas, footprint // per_node, per_node)
    if group.gpus != a.gpus:  # the footprint rule changed without this module
        raise AssertionError(f"export of {a.offer_id} asks {group.gpus} GPUs, bought {a.gpus}")
    return group


@dataclass(frozen=True, slots=True)
class _Unit:
    """One assignment, ready to write: its names, node shape and the GPU's cluster names."""

    demand_id: str
    kind: str
    name: str
    replica_names: tuple[str, ...]  # a multi-node serving replica's own objects
    a: Assignment
    group: NodeGroup
    labels: GpuLabels


def _units(placement: Placement) -> list[_Unit]:
    """Every assignment of the placement, named uniquely across the whole placement."""
    p = placement.problem
    offer_index = {o: i for i, o in enumerate(p.offer_ids)}
    rows: list[tuple[str, str, Assignment, NodeGroup]] = []
    keys: list[tuple[str, ...]] = []
    for demand_id in placement.assignments:
        kind = placement.explanations[demand_id].kind
        for i, a in enumerate(placement.assignments[demand_id]):
            node = int(p.offer_node[offer_index[a.offer_id]])
            group = node_group(a, node, int(p.footprint(a.gpus_per_replica, node)))
            rows.append((demand_id, kind, a, group))
            keys.append((demand_id, a.site, str(i)))
            if kind == "serve" and group.nodes > 1:
                keys.extend((demand_id, a.site, str(i), f"r{j}") for j in range(group.replicas))
    names = iter(_unique(keys))
    units = []
    for demand_id, kind, a, group in rows:
        name = next(names)
        replicas = group.replicas if kind == "serve" and group.nodes > 1 else 0
        units.append(
            _Unit(
                demand_id=demand_id,
                kind=kind,
                name=name,
                replica_names=tuple(next(names) for _ in range(replicas)),
                a=a,
                group=group,
                labels=gpu_labels(a.gpu),
            )
        )
    return units


def skypilot_task(u: _Unit) -> dict[str, Any]:
    """The SkyPilot task of one assignment."""
    a, group = u.a, u.group
    if u.labels.skypilot_accelerator is None:
        raise InvalidRequest(
            f"demand {u.demand_id!r} is placed on {a.gpu}, which SkyPilot cannot request",
            field="format",
            hint="export with --format k8s (Kubernetes device-plugin resources)",
        )
    offer = label_value(a.offer_id)
    task: dict[str, Any] = {
        "name": u.name,
        "num_nodes": group.nodes if u.kind == "serve" else group.replicas * group.nodes,
        "resources": {
            "infra": f"k8s/{a.site}",
            "accelerators": f"{u.labels.skypilot_accelerator}:{group.gpus_per_node}",
            "labels": {"suanli.io/offer": offer, "suanli.io/demand": label_value(u.demand_id)},
        },
        "envs": {
            "SUANLI_DEMAND": u.demand_id,
            "SUANLI_OFFER": a.offer_id,
            "SUANLI_SITE": a.site,
            "SUANLI_GPUS": str(a.gpus),
            "SUANLI_PRICE_CNY_PER_GPU_HOUR": str(a.price_cny_per_gpu_hour),
        },
        "config": {
            "kubernetes": {"pod_config": {"spec": {"nodeSelector": {"suanli.io/offer": offer}}}}
        },
        "run": "echo 'replace with your workload'",
    }
    if u.kind == "serve":
        task["service"] = {"readiness_probe": "/health", "replicas": group.replicas}
        task["resources"]["ports"] = 8000
    return task


def _pod(
    name: str, demand_id: str, a: Assignment, labels: GpuLabels, per_node: int
) -> dict[str, Any]:
    return {
        "metadata": {"labels": _labels(name, demand_id, a)},
        "spec": {
            "nodeSelector": {
                "suanli.io/site": label_value(a.site),
                "suanli.io/offer": label_value(a.offer_id),
                labels.node_label_key: labels.node_label_value,
            },
            "containers": [
                {
                    "name": "workload",
                    "image": "REPLACE-ME",
                    "env": [
                        {"name": "SUANLI_DEMAND", "value": demand_id},
                        {"name": "SUANLI_OFFER", "value": a.offer_id},
                    ],
                    "resources": {
                        "requests": {labels.k8s_resource: per_node},
                        "limits": {labels.k8s_resource: per_node},
                    },
                }
            ],
        },
    }


def _labels(name: str, demand_id: str, a: Assignment) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "suanli",
        "suanli.io/demand": label_value(demand_id),
        "suanli.io/offer": label_value(a.offer_id),
    }


def _meta(name: str, demand_id: str, a: Assignment) -> dict[str, Any]:
    return {
        "name": name,
        "labels": _labels(name, demand_id, a),
        "annotations": {
            "suanli.io/demand-id": demand_id,
            "suanli.io/offer-id": a.offer_id,
            "suanli.io/gpu": a.gpu,
            "suanli.io/price-cny-per-gpu-hour": str(a.price_cny_per_gpu_hour),
        },
    }


def _headless(name: str, demand_id: str, a: Assignment) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, demand_id, a),
        "spec": {"clusterIP": "None", "selector": {"app.kubernetes.io/name": name}},
    }


def k8s_manifests(u: _Unit) -> list[dict[str, Any]]:
    """Kubernetes objects of one assignment."""
    a, group, name = u.a, u.group, u.name

    def pod(obj: str) -> dict[str, Any]:
        return _pod(obj, u.demand_id, a, u.labels, group.gpus_per_node)

    if u.kind == "serve" and group.nodes == 1:
        return [_deployment(name, u.demand_id, a, group.replicas, pod(name))]
    if u.kind == "serve":
        docs = []
        for replica in u.replica_names:
            docs.append(_headless(replica, u.demand_id, a))
            docs.append(_statefulset(replica, u.demand_id, a, group.nodes, pod(replica)))
        return docs
    if u.kind == "gang":
        job = _job(name, u.demand_id, a, group.nodes, pod(name), subdomain=name)
        return [_headless(name, u.demand_id, a), job]
    return [_job(name, u.demand_id, a, group.replicas * group.nodes, pod(name))]


def _deployment(
    name: str, demand_id: str, a: Assignment, replicas: int, pod: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, demand_id, a),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": pod,
        },
    }


def _statefulset(
    name: str, demand_id: str, a: Assignment, nodes: int, pod: dict[str, Any]
) -> dict[str, Any]:
    """One serving replica over ``nodes`` nodes: pod 0 leads, the others join it."""
    pod["spec"]["containers"][0]["env"].append(
        {"name": "SUANLI_LEADER", "value": f"{name}-0.{name}"}
    )
    pod["spec"]["containers"][0]["env"].append({"name": "SUANLI_NODES", "value": str(nodes)})
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(name, demand_id, a),
        "spec": {
            "replicas": nodes,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": pod,
        },
    }


def _job(
    name: str,
    demand_id: str,
    a: Assignment,
    pods: int,
    pod: dict[str, Any],
    subdomain: str | None = None,
) -> dict[str, Any]:
    """An indexed Job of ``pods`` pods running at once; a gang's pods find each other as
    ``<name>-<index>.<subdomain>``."""
    pod["spec"]["restartPolicy"] = "Never" if subdomain else "OnFailure"
    if subdomain:
        pod["spec"]["subdomain"] = subdomain
        pod["spec"]["containers"][0]["env"].append(
            {"name": "SUANLI_LEADER", "value": f"{name}-0.{subdomain}"}
        )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, demand_id, a),
        "spec": {
            "completionMode": "Indexed",
            "completions": pods,
            "parallelism": pods,
            "template": pod,
        },
    }


def export(placement: Placement, fmt: ExportFormat) -> dict[str, str]:
    """File name -> YAML text: per assignment a SkyPilot task, or per placed demand one
    multi-document Kubernetes file."""
    units = _units(placement)
    if fmt == "skypilot":
        return {f"{u.name}.yaml": yaml.safe_dump(skypilot_task(u), sort_keys=False) for u in units}
    by_demand: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        by_demand.setdefault(u.demand_id, []).extend(k8s_manifests(u))
    names = _unique([(d,) for d in by_demand])
    return {
        f"{name}.yaml": yaml.safe_dump_all(docs, sort_keys=False)
        for name, docs in zip(names, by_demand.values(), strict=True)
    }
