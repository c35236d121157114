"""Quotes: a request priced against the open offers, with nothing reserved.

Serve requests are sized first (:func:`suanli.perf.sizing.size`: GPU type, tensor
parallelism, replicas), then every request is placed (:func:`suanli.placement.place`) on
the open offers; batch and train requests go straight to placement as gang or batch
demands. The result names the offers and GPUs an order would reserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.defaults import DEFAULT_HEADROOM, DEFAULT_PERCENTILE
from suanli.errors import SuanliError, Unavailable
from suanli.store.models import Offer

MAX_OFFERS = 5000


@dataclass(frozen=True, slots=True)
class Preview:
    """What a quote stores: feasible or not, GPUs, cost, and the detail as JSON."""

    feasible: bool
    gpus: int
    cost_cny_per_hour: float
    result: dict[str, Any]


def _open_offers(session: Session) -> list[Any]:
    from suanli.placement import Offer as PlacementOffer

    rows = session.scalars(
        select(Offer)
        .where(Offer.status == "open", Offer.available > 0)
        .order_by(Offer.price_cny_per_gpu_hour, Offer.id)
        .limit(MAX_OFFERS)
    ).all()
    return [
        PlacementOffer(
            id=str(row.id),
            site=row.site,
            gpu=row.gpu,
            count=row.available,
            gpus_per_node=row.gpus_per_node,
            price_cny_per_gpu_hour=row.price_cny_per_gpu_hour,
            fabric=row.fabric,
            start_h=row.start_h,
            end_h=math.inf if row.end_h is None else row.end_h,
            interruptible=row.interruptible,
            seller=row.seller,
        )
        for row in rows
    ]


def _serve_demand(request_id: int, spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from suanli.catalog import gpu, gpus, reference_prices
    from suanli.perf.sizing import ServeRequest, size
    from suanli.placement import demands_from_sizing

    request = ServeRequest(
        model=spec["model"],
        precision=spec.get("precision", "bf16"),
        rate_per_s=float(spec["rate_per_s"]),
        prompt_tokens=int(spec["prompt_tokens"]),
        output_tokens=int(spec["output_tokens"]),
        trace=None,
        ttft_ms=float(spec["ttft_ms"]),
        tpot_ms=float(spec["tpot_ms"]),
        percentile=float(spec.get("percentile", DEFAULT_PERCENTILE)),
        headroom=float(spec.get("headroom", DEFAULT_HEADROOM)),
    )
    candidates = [gpu(name) for name in spec["gpu_types"]] if spec.get("gpu_types") else gpus()
    sizing = size(request, candidates, reference_prices())
    regions = tuple((city, float(w)) for city, w in spec["regions"].items())
    max_price = spec.get("max_price_cny_per_gpu_hour")
    demand = demands_from_sizing(
        str(request_id),
        sizing,
        regions,
        max_price_cny_per_gpu_hour=math.inf if max_price is None else float(max_price),
    )
    configs = [
        {
            "gpu": c.gpu,
            "tp": c.tp,
            "replicas": c.replicas,
            "gpus": c.gpus,
            "max_batch": c.max_batch,
            "ttft_ms": c.ttft_ms,
            "tpot_ms": c.tpot_ms,
            "cost_cny_per_hour": c.cost_cny_per_hour,
        }
        for c in list(sizing.configs)[:10]
    ]
    return demand, {"sizing": configs}


def _other_demand(request_id: int, kind: str, spec: dict[str, Any]) -> Any:
    from suanli.placement import BatchDemand, GangDemand

    max_price = spec.get("max_price_cny_per_gpu_hour") or math.inf
    if kind == "train":
        return GangDemand(
            id=str(request_id),
            gpus=int(spec["gpus"]),
            gpu_types=tuple(spec["gpu_types"]),
            min_interconnect_gb_s=float(spec.get("min_interconnect_gb_s", 0.0)),
            max_price_cny_per_gpu_hour=max_price,
            hours=float(spec["hours"]),
        )
    return BatchDemand(
        id=str(request_id),
        gpu_hours=float(spec["gpu_hours"]),
        gpu_types=tuple(spec["gpu_types"]),
        deadline_h=float(spec["deadline_h"]),
        max_price_cny_per_gpu_hour=max_price,
    )


def quote_request(session: Session, request_id: int, kind: str, spec: dict[str, Any]) -> Preview:
    """Size (serve only) and place the request on the open offers; reserve nothing."""
    try:
        from suanli.geo import LatencyModel
        from suanli.placement import place
    except ImportError as exc:  # the placement engine is not installed in this build
        raise Unavailable(
            "quotes need the placement engine, which is not available",
            hint="install a build of suanli that includes suanli.placement",
        ) from exc
    detail: dict[str, Any] = {"kind": kind}
    try:
        if kind == "serve":
            demand, extra = _serve_demand(request_id, spec)
            detail.update(extra)
        else:
            demand = _other_demand(request_id, kind, spec)
        offers = _open_offers(session)
        placement = place([demand], offers, LatencyModel())
    except SuanliError:
        raise
    except (ImportError, AttributeError, TypeError) as exc:
        raise Unavailable(
            f"quoting is not wired to this build's sizing/placement: {exc}",
            hint="update suanli; the service expects the interfaces in CONTRACTS.md",
        ) from exc
    chosen = tuple(placement.assignments.get(str(request_id), ()))
    assignments = [
        {
            "offer_id": int(a.offer_id),
            "site": a.site,
            "gpu": a.gpu,
            "gpus": int(a.gpus),
            "replicas": int(a.replicas),
            "gpus_per_replica": int(a.gpus_per_replica),
            "price_cny_per_gpu_hour": float(a.price_cny_per_gpu_hour),
            "cost_cny_per_hour": float(a.cost_cny_per_hour),
            "rtt_ms": {str(k): float(v) for k, v in a.rtt_ms.items()},
        }
        for a in chosen
    ]
    reason = placement.unplaced.get(str(request_id))
    feasible = bool(assignments) and reason is None
    detail["assignments"] = assignments
    if reason is not None:
        detail["unplaced_reason"] = str(reason)
    explanation = placement.explanations.get(str(request_id))
    if explanation is not None:
        detail["explanation"] = {
            "option": explanation.option,
            "considered": int(explanation.considered),
            "rejected_by_reason": {
                str(k): int(v) for k, v in explanation.rejected_by_reason.items()
            },
            "reason": explanation.reason,
        }
    return Preview(
        feasible=feasible,
        gpus=sum(int(a.gpus) for a in chosen),
        cost_cny_per_hour=sum(float(a.cost_cny_per_hour) for a in chosen),
        result=detail,
    )
