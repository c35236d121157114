"""How clusters name each catalog GPU: the Kubernetes extended resource a pod requests, the
node label a pod selects on, and SkyPilot's accelerator name.

NVIDIA nodes are labelled by the GPU feature discovery (part of the GPU operator) with
``nvidia.com/gpu.product``: the NVML device name with spaces turned into dashes
(``NVIDIA-H100-80GB-HBM3``), not the catalog's name. Ascend NPUs come from Huawei's device
plugin as ``huawei.com/Ascend910``. Rows come from ``data/gpu_labels.csv``, each with its
source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from suanli.catalog._data import read_csv
from suanli.catalog.gpus import gpu as catalog_gpu
from suanli.errors import NotFound


@dataclass(frozen=True, slots=True)
class GpuLabels:
    """Cluster names of one catalog GPU; ``skypilot_accelerator`` is None where SkyPilot has
    no name for it (it cannot request the device)."""

    gpu: str
    k8s_resource: str
    node_label_key: str
    node_label_value: str
    skypilot_accelerator: str | None
    source: str


@cache
def all_gpu_labels() -> dict[str, GpuLabels]:
    """Catalog GPU name -> its cluster names."""
    out: dict[str, GpuLabels] = {}
    for row in read_csv("gpu_labels.csv"):
        out[row["gpu"]] = GpuLabels(
            gpu=row["gpu"],
            k8s_resource=row["k8s_resource"],
            node_label_key=row["node_label_key"],
            node_label_value=row["node_label_value"],
            skypilot_accelerator=row["skypilot_accelerator"] or None,
            source=row["source"],
        )
    return out


def gpu_labels(name: str) -> GpuLabels:
    """Cluster names of a GPU (any name the catalog resolves)."""
    canonical = catalog_gpu(name).name
    try:
        return all_gpu_labels()[canonical]
    except KeyError:
        raise NotFound(
            f"no cluster labels for GPU {canonical!r}",
            hint="add a row to catalog/data/gpu_labels.csv",
        ) from None
