"""Domain values of placement: offers (supply), demands (serving, gang, batch) and latency tables.

A placement is a snapshot of concurrent use over a planning window: every demand needs a
number of GPUs at once, and costs are CNY per hour. Serving demands come from sizing (one
:class:`ServeOption` per acceptable GPU type, each with its own replica count and GPUs per
replica); gang jobs need ``gpus`` GPUs in one offer (one site, one fabric); batch jobs need
GPU-hours by a deadline, spread over the window as ``ceil(gpu_hours / window)`` GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from suanli.errors import InvalidRequest, NotFound

INF = math.inf


class Link(StrEnum):
    """How GPUs talk: within a node (NVLink, PCIe) or between nodes (IB, RoCE, Ethernet)."""

    NVLINK = "nvlink"
    PCIE = "pcie"
    IB = "ib"
    ROCE = "roce"
    ETHERNET = "eth"


INTRA_NODE = (Link.NVLINK, Link.PCIE)
INTER_NODE = (Link.IB, Link.ROCE, Link.ETHERNET)
RDMA = (Link.IB, Link.ROCE)


@dataclass(frozen=True, slots=True)
class Fabric:
    """An offer's fabric: its link within a node and its link between nodes."""

    intra: Link
    inter: Link

    @property
    def name(self) -> str:
        return f"{self.intra}-{self.inter}"

    @property
    def rdma(self) -> bool:
        """Whether nodes talk over RDMA (IB or RoCE), which a multi-node gang needs."""
        return self.inter in RDMA

    def matches(self, wanted: str) -> bool:
        """Whether this fabric is ``wanted``: a full name (``nvlink-ib``) or one link (``ib``)."""
        return wanted == self.name or wanted in (self.intra, self.inter)


FABRICS: tuple[str, ...] = tuple(f"{a}-{b}" for a in INTRA_NODE for b in INTER_NODE)
LINKS: tuple[str, ...] = tuple(str(link) for link in Link)


def parse_fabric(text: str) -> Fabric:
    """The fabric named ``text`` (one of :data:`FABRICS`, any case); InvalidRequest otherwise.
    Names are matched whole, never by substring (``eth-fiber`` is not InfiniBand)."""
    intra, _, inter = text.strip().lower().partition("-")
    if intra in INTRA_NODE and inter in INTER_NODE:
        return Fabric(Link(intra), Link(inter))
    raise InvalidRequest(
        f"unknown fabric {text!r}", field="fabric", hint="use one of: " + ", ".join(FABRICS)
    )


def check_fabric_choice(text: str) -> str:
    """A gang's acceptable fabric: a fabric name or one link; InvalidRequest otherwise."""
    value = text.strip().lower()
    if value in FABRICS or value in LINKS:
        return value
    raise InvalidRequest(
        f"unknown fabric {text!r}",
        field="fabrics",
        hint="use fabric names (" + ", ".join(FABRICS) + ") or links (" + ", ".join(LINKS) + ")",
    )


@dataclass(frozen=True, slots=True)
class Offer:
    """Idle GPUs a seller lists: ``count`` GPUs of one type at one site, in nodes of
    ``gpus_per_node``, behind one ``fabric`` (e.g. ``nvlink-ib``, ``pcie-eth``), available in
    ``[start_h, end_h)`` at ``price_cny_per_gpu_hour``."""

    id: str
    site: str
    gpu: str
    count: int
    gpus_per_node: int
    price_cny_per_gpu_hour: float
    fabric: str = "nvlink-ib"
    start_h: float = 0.0
    end_h: float = INF
    interruptible: bool = False
    seller: str = ""


@dataclass(frozen=True, slots=True)
class ServeOption:
    """One way to serve a model: ``replicas`` replicas of ``gpus_per_replica`` GPUs of ``gpu``.

    ``regions`` are the users' cities with traffic weights; ``rtt_budget_ms`` gives, per city,
    the network round trip the TTFT target leaves after prefill and queueing.
    """

    gpu: str
    gpus_per_replica: int
    replicas: int
    regions: tuple[tuple[str, float], ...]
    rtt_budget_ms: Mapping[str, float]
    max_price_cny_per_gpu_hour: float = INF

    @property
    def gpus(self) -> int:
        return self.gpus_per_replica * self.replicas


@dataclass(frozen=True, slots=True)
class ServeDemand:
    """A model to serve: any one of ``options`` (one per GPU type) meets the SLO.

    Replicas may share sites only where every region they serve is within budget; otherwise
    the plan splits replicas by region (``allow_split``), each region getting its share of
    replicas in proportion to its traffic (rounded up).
    """

    id: str
    options: tuple[ServeOption, ...]
    allow_split: bool = True
    allow_interruptible: bool = False
    start_h: float = 0.0
    hours: float = 1.0


@dataclass(frozen=True, slots=True)
class GangDemand:
    """A training (gang) job: ``gpus`` GPUs of one of ``gpu_types`` in one offer (one site and
    one fabric), in whole nodes when larger than a node, with at least
    ``min_interconnect_gb_s`` between GPUs; multi-node gangs need an RDMA fabric (IB/RoCE)."""

    id: str
    gpus: int
    gpu_types: tuple[str, ...]
    min_interconnect_gb_s: float = 0.0
    max_price_cny_per_gpu_hour: float = INF
    hours: float = 1.0
    start_h: float = 0.0
    fabrics: tuple[str, ...] = ()
    min_memory_gb: float = 0.0
    allow_interruptible: bool = False


@dataclass(frozen=True, slots=True)
class BatchDemand:
    """Batch work: ``gpu_hours`` on any of ``gpu_types`` between ``start_h`` and
    ``deadline_h``; no latency limit, divisible across offers one GPU at a time."""

    id: str
    gpu_hours: float
    gpu_types: tuple[str, ...]
    deadline_h: float
    max_price_cny_per_gpu_hour: float = INF
    start_h: float = 0.0
    min_memory_gb: float = 0.0
    allow_interruptible: bool = True

    @property
    def gpus(self) -> int:
        """GPUs needed at once to finish by the deadline."""
        window = self.deadline_h - self.start_h
        return max(1, math.ceil(self.gpu_hours / window - 1e-9))


Demand = ServeDemand | GangDemand | BatchDemand


@dataclass(frozen=True, slots=True, eq=False)
class RttTable:
    """Precomputed RTT in ms between demand cities (rows) and sites (columns)."""

    cities: tuple[str, ...]
    sites: tuple[str, ...]
    rtt_ms: npt.NDArray[np.float64]
    _city_index: dict[str, int] = field(init=False, repr=False)
    _site_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        arr = np.asarray(self.rtt_ms, dtype=np.float64)
        if arr.shape != (len(self.cities), len(self.sites)):
            raise InvalidRequest(
                f"RTT table has shape {arr.shape}, expected "
                f"({len(self.cities)}, {len(self.sites)})",
                field="rtt_ms",
            )
        if np.any(~(arr >= 0)):
            raise InvalidRequest("RTT values must be >= 0 ms", field="rtt_ms")
        object.__setattr__(self, "rtt_ms", arr)
        object.__setattr__(self, "_city_index", {c: i for i, c in enumerate(self.cities)})
        object.__setattr__(self, "_site_index", {s: i for i, s in enumerate(self.sites)})

    def sub(self, cities: Sequence[str], sites: Sequence[str]) -> npt.NDArray[np.float64]:
        """The RTT block for these cities and sites (NotFound names a missing one)."""
        rows = [self._lookup(self._city_index, c, "city") for c in cities]
        cols = [self._lookup(self._site_index, s, "site") for s in sites]
        out: npt.NDArray[np.float64] = self.rtt_ms[np.ix_(rows, cols)]
        return out

    @staticmethod
    def _lookup(index: dict[str, int], key: str, what: str) -> int:
        try:
            return index[key]
        except KeyError:
            raise NotFound(
                f"the RTT table has no {what} {key!r}",
                hint=f"Add {what} {key!r} to the RTT table or use a LatencyModel.",
                context={what: key},
            ) from None


# Reasons an offer is not used for a demand, in the order they are checked.
REASONS: tuple[str, ...] = (
    "ok",
    "gpu_type",
    "memory",
    "window",
    "interruptible",
    "fabric",
    "price",
    "latency",
    "capacity",
    "cost",
)
