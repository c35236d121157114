"""The GPU rental price index, computed from the exchange's own fills.

For one GPU model (a catalog name: H100-SXM and H100-PCIe are different GPUs and never mix),
one pricing type (on-demand, interruptible or reserved never mix) and optionally one hub or
region, fills are bucketed by the period in which they cleared (hour or day). In each bucket
the index is the GPU-hour-weighted trimmed mean of fill prices (CNY per GPU-hour):

.. math::  I = \\frac{\\sum_i w'_i p_i}{\\sum_i w'_i}, \\quad
           w'_i = \\big|[c_{i-1}, c_i] \\cap [\\tau W, (1-\\tau) W]\\big|

with fills sorted by price, :math:`w_i` = GPUs x window hours, :math:`c_i` the cumulative
weight, :math:`W` the total and :math:`\\tau = 0.1`: the cheapest and dearest 10% of the
GPU-hours are cut away, a fill straddling a cut counting in part. A bucket without fills
carries the last value forward, flagged ``stale``, while the latest fill is no older than
``staleness_h``; after that the series has a gap rather than a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from suanli.errors import InvalidRequest, SuanliError
from suanli.market.clearing import Fill
from suanli.market.orders import (
    FEN_PER_CNY,
    Pricing,
    fen,
    hub_contains,
    instrument,
    resolve_gpu,
    resolve_hub,
)

PERIOD_H = {"hour": 1.0, "day": 24.0}
DEFAULT_STALENESS_H = {"hour": 6.0, "day": 72.0}


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """The index over ``[start_h, end_h)``."""

    gpu: str
    hub: str | None
    pricing: str
    period: str
    start_h: float
    end_h: float
    cny_per_gpu_hour: float
    gpu_hours: float  # weight behind the point (0 when carried forward)
    fills: int
    stale: bool
    age_h: float  # from the latest fill used to the end of the period


def trimmed_mean(
    prices: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], trim: float = 0.1
) -> float:
    """Weight-trimmed weighted mean (``trim`` of the weight cut from each end)."""
    if len(prices) == 0:
        raise InvalidRequest("no prices to average", field="fills")
    order = np.argsort(prices, kind="stable")
    p, w = prices[order], weights[order]
    cum = np.cumsum(w)
    total = float(cum[-1])
    lo, hi = trim * total, (1.0 - trim) * total
    kept = np.clip(np.minimum(cum, hi) - np.maximum(cum - w, lo), 0.0, None)
    if kept.sum() <= 0:  # trim of 0.5: the weighted median
        return float(p[np.searchsorted(cum, total / 2)])
    return float((kept * p).sum() / kept.sum())


def price_index(
    fills: Iterable[Fill],
    *,
    gpu: str,
    hub: str | None = None,
    period: str = "hour",
    pricing: str | Pricing = Pricing.ON_DEMAND,
    now_h: float | None = None,
    staleness_h: float | None = None,
    trim: float = 0.1,
) -> list[IndexPoint]:
    """The index series for ``gpu`` (and ``hub``), oldest first, up to the period of ``now_h``
    (default: the latest fill). See the module docstring for the method."""
    if period not in PERIOD_H:
        raise InvalidRequest(f"period must be hour or day, not {period!r}", field="period")
    if not 0 <= trim < 0.5:
        raise InvalidRequest("trim must be in [0, 0.5)", field="trim")
    try:
        kind = Pricing(pricing)
    except ValueError:
        raise InvalidRequest(f"unknown pricing type {pricing!r}", field="pricing") from None
    gpu_name = resolve_gpu(gpu)
    region = resolve_hub(hub) if hub else None
    step = PERIOD_H[period]
    stale_h = DEFAULT_STALENESS_H[period] if staleness_h is None else staleness_h
    chosen = [
        f
        for f in fills
        if f.instrument.gpu == gpu_name
        and f.instrument.pricing is kind
        and (region is None or hub_contains(region, f.instrument.hub))
        and (now_h is None or f.cleared_at_h <= now_h)
        and f.gpus > 0
    ]
    if not chosen:
        return []
    at = np.array([f.cleared_at_h for f in chosen])
    price = np.array([f.price_fen_per_gpu_hour / FEN_PER_CNY for f in chosen])
    weight = np.array([f.gpu_hours for f in chosen])
    bucket = np.floor(at / step).astype(np.int64)
    last_bucket = math.floor(now_h / step) if now_h is not None else int(bucket.max())
    points: list[IndexPoint] = []
    last: tuple[float, float] | None = None  # value, time of latest fill
    order = np.argsort(bucket, kind="stable")
    bucket, at, price, weight = bucket[order], at[order], price[order], weight[order]
    starts = np.searchsorted(bucket, np.arange(int(bucket.min()), last_bucket + 1))
    ends = np.searchsorted(bucket, np.arange(int(bucket.min()), last_bucket + 1), side="right")
    for b, s, e in zip(range(int(bucket.min()), last_bucket + 1), starts, ends, strict=True):
        end_h = (b + 1) * step
        if e > s:
            value = trimmed_mean(price[s:e], weight[s:e], trim)
            last = (value, float(at[s:e].max()))
            points.append(
                IndexPoint(gpu_name, region, kind.value, period, b * step, end_h, value,
                           float(weight[s:e].sum()), int(e - s), False, end_h - last[1])
            )  # fmt: skip
        elif last is not None and end_h - last[1] <= stale_h:
            points.append(
                IndexPoint(gpu_name, region, kind.value, period, b * step, end_h, last[0],
                           0.0, 0, True, end_h - last[1])
            )  # fmt: skip
    return points


def fills_from_records(records: Iterable[Mapping[str, Any]]) -> list[Fill]:
    """Fills from plain records (``gpu, site, interruptible, gpus, price_cny_per_gpu_hour,
    hours, at_h``), e.g. the service's direct orders; records that do not resolve are skipped."""
    out = []
    for r in records:
        try:
            pricing = Pricing.INTERRUPTIBLE if r.get("interruptible") else Pricing.ON_DEMAND
            at = float(r["at_h"])
            inst = instrument(str(r["gpu"]), str(r["site"]), pricing, at, at + float(r["hours"]))
            out.append(
                Fill(str(r["id"]), inst, "", "", str(r.get("buyer", "")),
                     str(r.get("seller", "")), int(r["gpus"]),
                     fen(float(r["price_cny_per_gpu_hour"])), at)
            )  # fmt: skip
        except (SuanliError, KeyError, ValueError, TypeError):
            continue
    return out


def index_document(
    fills: Sequence[Fill],
    records: Iterable[Mapping[str, Any]] = (),
    *,
    gpu: str,
    hub: str | None = None,
    period: str = "hour",
    pricing: str = "on-demand",
    now_h: float | None = None,
    staleness_h: float | None = None,
) -> dict[str, Any]:
    """The index as one JSON-ready document (what the API and ``suanli index`` print)."""
    points = price_index(
        [*fills, *fills_from_records(records)], gpu=gpu, hub=hub, period=period,
        pricing=pricing, now_h=now_h, staleness_h=staleness_h,
    )  # fmt: skip
    stale_h = DEFAULT_STALENESS_H.get(period, 0.0) if staleness_h is None else staleness_h
    return {
        "gpu": resolve_gpu(gpu),
        "hub": resolve_hub(hub) if hub else None,
        "period": period,
        "pricing": pricing,
        "method": "GPU-hour-weighted mean, 10% of GPU-hours trimmed each side; "
        f"carried forward at most {stale_h:g} h",
        "latest_cny_per_gpu_hour": points[-1].cny_per_gpu_hour if points else None,
        "points": [asdict(p) for p in points],
    }
