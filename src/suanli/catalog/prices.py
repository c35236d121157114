"""GPU rental price points in China (CNY per GPU-hour), each with its source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from suanli.catalog._data import read_csv
from suanli.catalog.gpus import gpu
from suanli.errors import NotFound


@dataclass(frozen=True, slots=True)
class RentalPrice:
    """One observed (or, where ``kind == "estimate"``, estimated) rental price."""

    gpu: str
    cny_per_gpu_hour: float
    date: str
    kind: str  # peak, on-demand or estimate
    source: str


@cache
def rental_prices() -> tuple[RentalPrice, ...]:
    """Every price point, in file order."""
    return tuple(
        RentalPrice(
            gpu=r["gpu"],
            cny_per_gpu_hour=float(r["cny_per_gpu_hour"]),
            date=r["date"],
            kind=r["kind"],
            source=r["source_note"],
        )
        for r in read_csv("rental_prices.csv")
    )


def reference_price(gpu_name: str) -> RentalPrice:
    """The current reference price of a GPU: its latest on-demand point, else an estimate.

    Peak prices never count as current.
    """
    name = gpu(gpu_name).name
    points = [p for p in rental_prices() if p.gpu == name and p.kind != "peak"]
    if not points:
        raise NotFound(
            f"no rental price known for {name}",
            hint="Give a price explicitly (e.g. --price) for this GPU.",
            context={"gpu": name},
        )
    on_demand = [p for p in points if p.kind == "on-demand"]
    return max(on_demand or points, key=lambda p: p.date)


def reference_prices() -> dict[str, float]:
    """GPU name -> current reference CNY per GPU-hour, for every GPU that has one."""
    out: dict[str, float] = {}
    for name in sorted({p.gpu for p in rental_prices()}):
        out[name] = reference_price(name).cny_per_gpu_hour
    return out
