"""A buyer's request as the dashboard shows it: placement, per-region RTT and TTFT, cost.

Visibility is the store's: :func:`suanli.store.requests.get_request` reports another
tenant's request as not found, so the page can never show it.

Per region the users are served by the nearest placed site, so the region's RTT is the
minimum modelled RTT from the city to any site holding the request's GPUs; its TTFT is the
server-side TTFT the quote predicted (queueing + prefill at the percentile) plus that RTT:

    rtt_r  = min_{s in placed sites} rtt(city_r, s)
    ttft_r = ttft_server + rtt_r            met_r = ttft_r <= ttft_target and rtt_r <= budget
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from suanli.catalog import city, site
from suanli.errors import NotFound
from suanli.geo import LatencyModel, rtt_ms
from suanli.store.keys import Caller
from suanli.store.models import Lease, Order, Quote, RequestRow
from suanli.store.orders import page
from suanli.store.requests import get_request, lifecycle_status, scoped, with_status
from suanli.web.queries import Page, check_page, iso


def requests_page(session: Session, caller: Caller, *, page_no: int, page_size: int) -> Page:
    """The requests this key may see (a buyer: its own; the operator: all), newest first."""
    limit, offset = check_page(page_no, page_size)
    rows, total = page(session, scoped(caller, RequestRow), limit=limit, offset=offset)
    statuses = with_status(session, list(rows))
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "name": r.name,
            "model": (r.spec or {}).get("model"),
            "status": statuses[r.id],
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]
    return Page(items, total, page_no, page_size)


def _server_ttft_ms(result: Mapping[str, Any] | None, gpus: set[str]) -> float | None:
    """The TTFT the quote's sizing predicts (queueing + prefill at the percentile) for the
    GPU model the request was placed on; its cheapest configuration when none matches."""
    if not result:
        return None
    configs = [c for c in result.get("sizing") or [] if isinstance(c, Mapping)]
    matching = [c for c in configs if c.get("gpu") in gpus] or configs
    for config in matching:
        value = config.get("ttft_ms")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _quoted_assignments(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Offer/GPU pairs of a quote's placement preview, in whatever list the quote uses."""
    for key in ("items", "assignments", "placement"):
        value = result.get(key)
        if isinstance(value, Mapping):
            value = value.get("items") or value.get("assignments")
        if isinstance(value, list):
            out = []
            for item in value:
                if isinstance(item, Mapping) and "offer_id" in item and "gpus" in item:
                    out.append(dict(item))
            if out:
                return out
    return []


def _site_point(site_id: str) -> dict[str, Any]:
    try:
        s = site(site_id)
    except NotFound:
        return {"site_name": site_id, "lat": None, "lon": None}
    return {"site_name": s.name, "lat": s.lat, "lon": s.lon}


def request_detail(
    session: Session, caller: Caller, request_id: int, *, model: LatencyModel | None = None
) -> dict[str, Any]:
    """Everything the request page shows; :class:`NotFound` when the key may not see it."""
    req = get_request(session, caller, request_id)
    spec: dict[str, Any] = dict(req.spec or {})
    quote = session.scalars(
        select(Quote).where(Quote.request_id == req.id).order_by(Quote.id.desc()).limit(1)
    ).first()
    order_ids = select(Order.id).where(Order.request_id == req.id)
    leases = list(
        session.scalars(select(Lease).where(Lease.order_id.in_(order_ids)).order_by(Lease.id))
    )
    assignments: list[dict[str, Any]] = []
    source = "none"
    if leases:
        source = "leases"
        for lease in leases:
            assignments.append(
                {
                    "offer_id": lease.offer_id,
                    "lease_id": lease.id,
                    "status": lease.status,
                    "site": lease.site,
                    "gpu": lease.gpu,
                    "gpus": lease.gpus,
                    "cost_cny_per_hour": round(lease.gpus * lease.price_cny_per_gpu_hour, 2),
                    **_site_point(lease.site),
                }
            )
    elif quote is not None and quote.feasible:
        source = "quote"
        for item in _quoted_assignments(quote.result or {}):
            site_id = str(item.get("site", ""))
            assignments.append(
                {
                    "offer_id": item["offer_id"],
                    "site": site_id,
                    "gpu": item.get("gpu"),
                    "gpus": item["gpus"],
                    "cost_cny_per_hour": item.get("cost_cny_per_hour"),
                    **_site_point(site_id),
                }
            )
    live = [a for a in assignments if a.get("status", "active") == "active"] or assignments
    cost = sum(float(a["cost_cny_per_hour"] or 0) for a in live) if live else None
    if cost is None and quote is not None and quote.feasible:
        cost = quote.cost_cny_per_hour
    placed_gpus = {str(a["gpu"]) for a in live if a.get("gpu")}
    server_ttft = _server_ttft_ms(quote.result if quote else None, placed_gpus)
    result = dict(quote.result or {}) if quote else {}
    regions = _regions(spec, live, server_ttft, model or LatencyModel())
    total_orders = session.scalar(select(func.count(Order.id)).where(Order.request_id == req.id))
    return {
        "id": req.id,
        "kind": req.kind,
        "name": req.name,
        "status": lifecycle_status(req.status, [lease.status for lease in leases]),
        "created_at": iso(req.created_at),
        "model": spec.get("model"),
        "rate_per_s": spec.get("rate_per_s"),
        "ttft_target_ms": spec.get("ttft_ms"),
        "tpot_target_ms": spec.get("tpot_ms"),
        "percentile": spec.get("percentile"),
        "server_ttft_ms": server_ttft,
        "cost_cny_per_hour": round(cost, 2) if cost is not None else None,
        "placement_source": source,
        "orders": int(total_orders or 0),
        "quote_id": quote.id if quote else None,
        "unplaced_reason": result.get("unplaced_reason"),
        "explanation": result.get("explanation"),
        "assignments": assignments,
        "regions": regions,
        "spec": spec,
    }


def _regions(
    spec: Mapping[str, Any],
    placed: list[dict[str, Any]],
    server_ttft_ms: float | None,
    model: LatencyModel,
) -> list[dict[str, Any]]:
    raw = spec.get("regions") or {}
    if not isinstance(raw, Mapping):
        return []
    budget = spec.get("rtt_budget_ms")
    target = spec.get("ttft_ms")
    sites = sorted({str(a["site"]) for a in placed if a.get("site")})
    out = []
    for name, weight in raw.items():
        try:
            c = city(str(name))
        except NotFound:
            continue
        rtts = []
        for site_id in sites:
            try:
                rtts.append(rtt_ms(c, site(site_id), model))
            except NotFound:
                continue
        rtt = min(rtts) if rtts else None
        ttft = server_ttft_ms + rtt if (server_ttft_ms is not None and rtt is not None) else None
        # The verdict needs only what is known: TTFT against its target, and the RTT
        # against its budget where the request gave one.
        checks = []
        if ttft is not None and target is not None:
            checks.append(ttft <= float(target))
        if rtt is not None and budget is not None:
            checks.append(rtt <= float(budget))
        met: bool | None = all(checks) if checks else None
        out.append(
            {
                "id": c.id,
                "name": c.name,
                "lat": c.lat,
                "lon": c.lon,
                "weight": weight,
                "rtt_ms": round(rtt, 2) if rtt is not None else None,
                "rtt_budget_ms": budget,
                "ttft_ms": round(ttft, 1) if ttft is not None else None,
                "ttft_target_ms": target,
                "met": met,
            }
        )
    return out
