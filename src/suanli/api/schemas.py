"""Request and response bodies (pydantic lives here, at the API edge only).

Every number is bounded and every string is length-limited and free of NUL characters, so
bad input is a 422 naming the field, never a database error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suanli.defaults import DEFAULT_HEADROOM, DEFAULT_PERCENTILE, MAX_HEADROOM
from suanli.inputs import Fabric as Fabric  # the shared strict types, re-exported
from suanli.inputs import Gpus as Gpus
from suanli.inputs import Hours as Hours
from suanli.inputs import Id as Id
from suanli.inputs import Label as Label
from suanli.inputs import Name as Name
from suanli.inputs import OfferFields, StrictInput
from suanli.inputs import Price as Price

T = TypeVar("T")
Input = StrictInput  # every request body: see suanli.inputs


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_offset`` is None on the last page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


# --- offers -----------------------------------------------------------------------------


class OfferIn(OfferFields):
    """A new offer: the fields every offer has (:class:`suanli.inputs.OfferFields`)."""

    count: Gpus
    price_cny_per_gpu_hour: Price


class OfferPatch(Input):
    version: Id = Field(description="the version you read; a stale one gets 409")
    count: int | None = Field(None, ge=0, le=1_000_000)
    gpus_per_node: int | None = Field(None, ge=1, le=64)
    price_cny_per_gpu_hour: Price | None = None
    fabric: Fabric | None = None
    end_h: Hours | None = None
    interruptible: bool | None = None


class OfferWithdraw(Input):
    gpus: Gpus | None = Field(None, description="free GPUs to withdraw; all free ones if absent")
    version: Id | None = Field(None, description="optional: fail with 409 if stale")


class OfferOut(Output):
    id: int
    seller: str
    site: str
    hub: str
    region_role: str
    gpu: str
    count: int
    available: int
    gpus_per_node: int
    price_cny_per_gpu_hour: float
    fabric: str
    start_h: float
    end_h: float | None
    interruptible: bool
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    verified: bool = Field(
        False, description="the seller's probe record verified every GPU of this model"
    )
    verified_at: datetime | None = Field(
        None, description="when the probe of that (newest verifying) record ran"
    )


# --- requests ---------------------------------------------------------------------------


class ServeRequestIn(Input):
    """Serve a model to users in some cities within latency targets."""

    kind: Literal["serve"]
    name: Label = ""
    model: Name = Field(description="catalog model name, e.g. Qwen2.5-32B")
    precision: Literal["bf16", "fp8", "int4"] = "bf16"
    rate_per_s: float = Field(gt=0, le=1_000_000)
    prompt_tokens: int = Field(ge=1, le=1_000_000, description="mean prompt tokens")
    output_tokens: int = Field(ge=1, le=1_000_000, description="mean output tokens")
    ttft_ms: float = Field(gt=0, le=600_000)
    tpot_ms: float = Field(gt=0, le=60_000)
    percentile: float = Field(DEFAULT_PERCENTILE, ge=50, le=99.99)
    headroom: float = Field(DEFAULT_HEADROOM, ge=0, lt=MAX_HEADROOM)
    regions: dict[Name, float] = Field(
        min_length=1, max_length=50, description="demand city -> share of traffic"
    )
    gpu_types: list[Name] | None = Field(None, max_length=50)
    max_price_cny_per_gpu_hour: Price | None = None


class BatchRequestIn(Input):
    """Run a batch job of a known size (GPU-hours) by a deadline."""

    kind: Literal["batch"]
    name: Label = ""
    gpu_hours: float = Field(gt=0, le=100_000_000)
    gpu_types: list[Name] = Field(min_length=1, max_length=50)
    deadline_h: float = Field(gt=0, le=100_000)
    max_price_cny_per_gpu_hour: Price | None = None


class TrainRequestIn(Input):
    """Train on a gang of interconnected GPUs at one site for some hours."""

    kind: Literal["train"]
    name: Label = ""
    gpus: Gpus
    gpu_types: list[Name] = Field(min_length=1, max_length=50)
    hours: float = Field(gt=0, le=100_000)
    min_interconnect_gb_s: float = Field(0.0, ge=0, le=100_000)
    max_price_cny_per_gpu_hour: Price | None = None


RequestIn = Annotated[ServeRequestIn | BatchRequestIn | TrainRequestIn, Field(discriminator="kind")]


class RequestOut(Output):
    id: int
    buyer: str
    kind: str
    name: str
    status: str
    spec: dict[str, Any]
    created_at: datetime


# --- quotes, orders, leases, fills --------------------------------------------------------


class QuoteIn(Input):
    request_id: Id


class QuoteOut(Output):
    id: int
    buyer: str
    request_id: int
    feasible: bool
    gpus: int
    cost_cny_per_hour: float
    result: dict[str, Any]
    created_at: datetime


class OrderItem(Input):
    offer_id: Id
    gpus: Gpus


class OrderIn(Input):
    """Either explicit ``items`` or a ``quote_id`` whose placement to commit."""

    items: list[OrderItem] | None = Field(None, min_length=1, max_length=100)
    quote_id: Id | None = None
    request_id: Id | None = None
    hours: float | None = Field(None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _one_source(self) -> OrderIn:
        if (self.items is None) == (self.quote_id is None):
            raise ValueError("give exactly one of items or quote_id")
        return self


class LeaseOut(Output):
    id: int
    order_id: int
    offer_id: int
    buyer: str
    seller: str
    gpu: str
    site: str
    hub: str
    gpus: int
    price_cny_per_gpu_hour: float
    hours: float | None
    status: str
    created_at: datetime
    ended_at: datetime | None


class OrderOut(Output):
    id: int
    buyer: str
    request_id: int | None
    quote_id: int | None
    status: str
    gpus: int
    cost_cny_per_hour: float
    created_at: datetime
    leases: list[LeaseOut] = []


class FillOut(Output):
    id: int
    order_id: int
    lease_id: int
    offer_id: int
    buyer: str
    seller: str
    gpu: str
    site: str
    hub: str
    gpus: int
    price_cny_per_gpu_hour: float
    interruptible: bool
    created_at: datetime


class SiteOut(BaseModel):
    id: str
    name: str
    province: str
    hub: str
    role: str
    region: str
    lat: float
    lon: float
    power_cny_per_kwh: float
    gpus_listed: int
    gpus_available: int


class ErrorOut(BaseModel):
    error: str
    message: str
    hint: str | None = None
    context: dict[str, Any] | None = None
