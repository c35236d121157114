"""Strict input models shared by the API and the placement file readers.

Pydantic lives at the edges (request bodies, files people write); this module is the one
place those edges define what a valid value is: integers that are integers (``true`` and
``8.5`` are not counts), finite numbers within bounds, text without NUL characters, and
unknown fields refused (a typo such as ``max_prise_cny_per_gpu_hour`` must not silently drop
a price limit). :mod:`suanli.api.schemas` builds its bodies from these types and
:class:`OfferFields`; :mod:`suanli.placement.files` validates every offer and request item
with the models below and turns them into the core's frozen dataclasses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

MAX_INT = 2**31 - 1
MAX_GPUS = 1_000_000
MAX_HOURS = 1_000_000.0
MAX_PRICE = 100_000.0


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Label = Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]
Id = Annotated[int, Field(ge=1, le=MAX_INT)]
Gpus = Annotated[int, Field(ge=1, le=MAX_GPUS)]
GpuCount = Annotated[int, Field(ge=0, le=MAX_GPUS)]
NodeSize = Annotated[int, Field(ge=1, le=64)]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE, description="CNY per GPU-hour")]
PriceOrFree = Annotated[float, Field(ge=0, le=MAX_PRICE, description="CNY per GPU-hour")]
Hours = Annotated[float, Field(ge=0, le=MAX_HOURS)]
Duration = Annotated[float, Field(gt=0, le=MAX_HOURS)]
Weight = Annotated[float, Field(gt=0, le=1e9)]
Milliseconds = Annotated[float, Field(ge=0, le=600_000)]
GbPerS = Annotated[float, Field(ge=0, le=100_000)]
GpuTypes = Annotated[list[Name], Field(min_length=1, max_length=50)]
Fabric = Literal["nvlink-ib", "nvlink-roce", "nvlink-eth", "pcie-ib", "pcie-roce", "pcie-eth"]
FabricChoice = Literal[
    "nvlink-ib", "nvlink-roce", "nvlink-eth", "pcie-ib", "pcie-roce", "pcie-eth",
    "nvlink", "pcie", "ib", "roce", "eth",
]  # fmt: skip


class StrictInput(BaseModel):
    """Base of every input: unknown fields, non-finite numbers and values of the wrong JSON
    type (``true`` for a number, ``"8"`` for a count) are rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class OfferFields(StrictInput):
    """What every offer says, in the API and in offer files alike."""

    site: Name = Field(description="catalog site id or name, e.g. zhongwei")
    gpu: Name = Field(description="catalog GPU name, e.g. H100")
    gpus_per_node: NodeSize = 8
    fabric: Fabric = "nvlink-ib"
    start_h: Hours = 0.0
    end_h: Hours | None = None
    interruptible: bool = False

    @field_validator("end_h")
    @classmethod
    def _window(cls, end_h: float | None, info: ValidationInfo) -> float | None:
        start = info.data.get("start_h")
        if end_h is not None and start is not None and end_h <= start:
            raise ValueError(f"end_h must be after start_h ({start:g})")
        return end_h


# --- placement files ---------------------------------------------------------------------


class OfferItem(OfferFields):
    """One offer in an offers file."""

    id: Name
    count: GpuCount
    price_cny_per_gpu_hour: PriceOrFree
    seller: Label = ""


def _cities_weigh_one(value: object) -> object:
    """``[shanghai, hangzhou]`` means equal traffic: ``{shanghai: 1, hangzhou: 1}``."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return dict.fromkeys(value, 1.0)
    return value


Regions = Annotated[
    dict[Name, Weight], Field(min_length=1, max_length=100), BeforeValidator(_cities_weigh_one)
]
Budgets = Milliseconds | dict[Name, Milliseconds]


class ServeOptionItem(StrictInput):
    """One way to serve a model (one GPU type); regions and budgets default to the request's."""

    gpu: Name
    gpus_per_replica: NodeSize = 1
    replicas: Gpus
    regions: Regions | None = None
    rtt_budget_ms: Budgets | None = None
    max_price_cny_per_gpu_hour: PriceOrFree | None = None


class _RequestItem(StrictInput):
    id: Name
    start_h: Hours = 0.0
    max_price_cny_per_gpu_hour: PriceOrFree | None = None


class ServeItem(_RequestItem):
    """A serving request: ``options`` (one per acceptable GPU type)."""

    kind: Literal["serve"] = "serve"
    options: Annotated[list[ServeOptionItem], Field(min_length=1, max_length=50)]
    regions: Regions | None = None
    rtt_budget_ms: Budgets | None = None
    allow_split: bool = True
    allow_interruptible: bool = False
    hours: Duration = 1.0


class ServeRowItem(ServeOptionItem):
    """A CSV row of a serving request: one option plus the request's own fields."""

    id: Name
    kind: Literal["serve"] = "serve"
    start_h: Hours = 0.0
    allow_split: bool = True
    allow_interruptible: bool = False
    hours: Duration = 1.0


class GangItem(_RequestItem):
    """A training (gang) job."""

    kind: Literal["gang"]
    gpus: Gpus
    gpu_types: GpuTypes
    min_interconnect_gb_s: GbPerS = 0.0
    hours: Duration = 1.0
    fabrics: Annotated[list[FabricChoice], Field(max_length=11)] = []
    min_memory_gb: GbPerS = 0.0
    allow_interruptible: bool = False


class BatchItem(_RequestItem):
    """Batch work: GPU-hours by a deadline."""

    kind: Literal["batch"]
    gpu_hours: Annotated[float, Field(gt=0, le=100_000_000)]
    gpu_types: GpuTypes
    deadline_h: Duration
    min_memory_gb: GbPerS = 0.0
    allow_interruptible: bool = True

    @field_validator("deadline_h")
    @classmethod
    def _window(cls, deadline_h: float, info: ValidationInfo) -> float:
        start = info.data.get("start_h")
        if start is not None and deadline_h <= start:
            raise ValueError(f"deadline_h must be after start_h ({start:g})")
        return deadline_h
