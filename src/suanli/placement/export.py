"""Hand-off: a placement as files a buyer can act on.

* **SkyPilot**: one task YAML per placed demand and site, ``resources.accelerators`` set to
  ``GPU:k``, the site as the Kubernetes context (``infra: k8s/<site>``), the units as
  ``num_nodes`` (gangs: whole nodes) or, for serving, as SkyServe replicas.
* **Kubernetes**: per placed demand one multi-document YAML: a Deployment per site
  (serving and batch) or an indexed Job (gangs), each pod requesting ``nvidia.com/gpu`` and
  pinned by node selectors to the site (``suanli.io/site``), the offer (``suanli.io/offer``)
  and the GPU product (``nvidia.com/gpu.product``, the GPU feature discovery label).

Pure: returns file names and text; the CLI writes them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml

from suanli.placement.result import Assignment, Placement

ExportFormat = Literal["skypilot", "k8s"]


def _slug(text: str) -> str:
    """A DNS-1123 label: lower case, digits and dashes, at most 63 characters."""
    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (slug or "x")[:63].rstrip("-")


def _node_size(placement: Placement, a: Assignment) -> int:
    p = placement.problem
    try:
        o = list(p.offer_ids).index(a.offer_id)
    except ValueError:
        return a.gpus_per_replica
    return int(p.offer_node[o])


def skypilot_tasks(placement: Placement, demand_id: str) -> dict[str, dict[str, Any]]:
    """SkyPilot task dicts for one placed demand, keyed by file name."""
    kind = placement.explanations[demand_id].kind
    out: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(placement.assignments[demand_id]):
        name = _slug(f"{demand_id}-{a.site}-{i}")
        node = _node_size(placement, a)
        per_node = min(a.gpus_per_replica, node)
        task: dict[str, Any] = {
            "name": name,
            "resources": {
                "infra": f"k8s/{a.site}",
                "accelerators": f"{a.gpu.replace('-SXM', '')}:{per_node}",
                "labels": {
                    "suanli.io/offer": _slug(a.offer_id),
                    "suanli.io/demand": _slug(demand_id),
                },
            },
            "envs": {
                "SUANLI_DEMAND": demand_id,
                "SUANLI_OFFER": a.offer_id,
                "SUANLI_PRICE_CNY_PER_GPU_HOUR": str(a.price_cny_per_gpu_hour),
            },
            "run": "echo 'replace with your workload'",
        }
        if kind == "serve":
            task["service"] = {"readiness_probe": "/health", "replicas": a.replicas}
            task["resources"]["ports"] = 8000
        elif kind == "gang":
            task["num_nodes"] = max(1, a.gpus // per_node)
        else:
            task["num_nodes"] = a.replicas
        out[f"{name}.yaml"] = task
    return out


def k8s_manifests(placement: Placement, demand_id: str) -> list[dict[str, Any]]:
    """Kubernetes objects for one placed demand."""
    kind = placement.explanations[demand_id].kind
    docs: list[dict[str, Any]] = []
    for i, a in enumerate(placement.assignments[demand_id]):
        name = _slug(f"{demand_id}-{a.site}-{i}")
        node = _node_size(placement, a)
        per_pod = min(a.gpus_per_replica, node)
        labels = {"app.kubernetes.io/name": name, "suanli.io/demand": _slug(demand_id)}
        pod: dict[str, Any] = {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "nodeSelector": {
                    "suanli.io/site": a.site,
                    "suanli.io/offer": _slug(a.offer_id),
                    "nvidia.com/gpu.product": a.gpu,
                },
                "containers": [
                    {
                        "name": "workload",
                        "image": "REPLACE-ME",
                        "resources": {
                            "requests": {"nvidia.com/gpu": per_pod},
                            "limits": {"nvidia.com/gpu": per_pod},
                        },
                    }
                ],
            },
        }
        meta = {"name": name, "labels": labels}
        if kind == "gang":
            pods = max(1, a.gpus // per_pod)
            pod["spec"]["restartPolicy"] = "Never"
            docs.append(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": meta,
                    "spec": {
                        "completionMode": "Indexed",
                        "completions": pods,
                        "parallelism": pods,
                        "template": pod,
                    },
                }
            )
        else:
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": meta,
                    "spec": {
                        "replicas": a.replicas,
                        "selector": {"matchLabels": dict(labels)},
                        "template": pod,
                    },
                }
            )
    return docs


def export(placement: Placement, fmt: ExportFormat) -> dict[str, str]:
    """File name -> YAML text for every placed demand."""
    files: dict[str, str] = {}
    for demand_id in placement.assignments:
        if fmt == "skypilot":
            for name, task in skypilot_tasks(placement, demand_id).items():
                files[name] = yaml.safe_dump(task, sort_keys=False)
        else:
            docs = k8s_manifests(placement, demand_id)
            files[f"{_slug(demand_id)}.yaml"] = yaml.safe_dump_all(docs, sort_keys=False)
    return files
