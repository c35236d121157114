"""The dashboard's router: the page at ``/``, its static files, and read endpoints under
``/web/api`` that return only pages and aggregates.

Public (no key): map, offers book, recent fills, ticker, price index, utilization by hub.
With a key: ``whoami``, the caller's own offers (``mine=true``), its requests and a
request's placement page; visibility follows the store's rules (other tenants' rows are
not found).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import func, select

from suanli.api.deps import (
    AggregateCache,
    AggregateCacheDep,
    Caller,
    ClearEveryDep,
    DatabaseDep,
    get_caller,
    optional_caller,
)
from suanli.errors import NotFound
from suanli.store.db import Database
from suanli.store.models import Fill
from suanli.web import queries
from suanli.web.geography import DEFAULT_CITY, map_document
from suanli.web.request_view import request_detail, requests_page

router = APIRouter()
api = APIRouter(prefix="/web/api", tags=["dashboard"])

_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_NO_CACHE = {"Cache-Control": "no-cache"}

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
RequiredCaller = Annotated[Caller, Depends(get_caller)]
PageNo = Annotated[int, Query(ge=1, le=10_000_000, description="1-based page")]


_AGGREGATE_TTL_S = 5.0


def _cached(cache: AggregateCache, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """A few seconds of per-process memory for the heavier aggregates (the app's
    :class:`~suanli.api.deps.AggregateCache`), so any number of open pages polling at once
    cost the database one query per key per TTL."""
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    if len(cache) > 256:
        cache.clear()
    cache[key] = (now + _AGGREGATE_TTL_S, value)
    return value


def _static_dir() -> Any:
    return resources.files("suanli.web").joinpath("static")


@router.get("/", include_in_schema=False)
def page() -> HTMLResponse:
    """The dashboard (one HTML page; scripts and styles come from /web/static)."""
    html = _static_dir().joinpath("index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=_NO_CACHE)


@router.get("/web/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """A file of the page; only plain names of known types, nothing outside the folder."""
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in _STATIC_TYPES:
        raise NotFound(f"no static file {name!r}")
    target = _static_dir().joinpath(name)
    if not target.is_file():
        raise NotFound(f"no static file {name!r}")
    with resources.as_file(target) as path:
        return FileResponse(path, media_type=_STATIC_TYPES[suffix], headers=_NO_CACHE)


@api.get("/style")
def style() -> Response:
    """The look shared with the simulation report (:mod:`suanli.catalog.cartography`):
    projection, utilization colour classes, hub colours, names in English and Chinese, and
    China's outline (Natural Earth, public domain)."""
    return Response(
        _style_json(), media_type="application/json", headers={"Cache-Control": "max-age=300"}
    )


@cache
def _style_json() -> bytes:
    import json

    from suanli.catalog.cartography import style_document

    return json.dumps(style_document(), ensure_ascii=False, separators=(",", ":")).encode()


@api.get("/meta")
def meta(db: DatabaseDep) -> dict[str, Any]:
    """Choices for the page's selectors: GPU models, regions, hubs, sites, demand cities."""
    from suanli.catalog import cities, gpus, sites

    with db.read() as session:
        busiest = session.execute(
            select(Fill.gpu).group_by(Fill.gpu).order_by(func.count(Fill.id).desc()).limit(1)
        ).scalar()
    regions = sorted({s.region for s in sites()})
    return {
        "gpus": [g.name for g in gpus()],
        "hubs": regions,
        "hubs_only": sorted({s.hub for s in sites() if s.hub}),
        "regions": sorted({s.role for s in sites()}),
        "sites": [{"id": s.id, "name": s.name, "name_zh": s.name_zh} for s in sites()],
        "cities": [{"id": c.id, "name": c.name, "name_zh": c.name_zh} for c in cities()],
        "default_city": DEFAULT_CITY,
        "default_gpu": busiest or "H100-SXM",
    }


@api.get("/map")
def site_map(db: DatabaseDep, city: str = Query(DEFAULT_CITY, max_length=100)) -> dict[str, Any]:
    """Sites with GPUs listed/leased and RTT to ``city``; rings of equal RTT around it."""
    with db.read() as session:
        capacity = queries.capacity_by_site(session)
    return map_document(capacity, city)


@api.get("/offers")
def offers(
    db: DatabaseDep,
    caller: OptionalCaller,
    gpu: Annotated[str | None, Query(max_length=64)] = None,
    hub: Annotated[str | None, Query(max_length=100)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    min_available: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
    max_price: Annotated[float | None, Query(ge=0, le=1e7)] = None,
    mine: bool = False,
    sort: Annotated[str, Query(max_length=16)] = "price",
    order: Annotated[str, Query(max_length=4)] = "asc",
    page: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 25,
) -> dict[str, Any]:
    """Open offers, filtered and sorted, one page. ``mine=true`` needs a seller key."""
    seller = None
    if mine:
        seller = queries.offers_for(get_caller_or_401(caller))
    with db.read() as session:
        result = queries.offers_page(
            session,
            gpu=gpu,
            hub=hub,
            site=site,
            min_available=min_available,
            max_price=max_price,
            seller=seller,
            sort=sort,
            order=order,
            page=page,
            page_size=page_size,
        )
    return result.to_dict()


def get_caller_or_401(caller: Caller | None) -> Caller:
    if caller is None:
        from suanli.errors import Unauthorized

        raise Unauthorized("'mine' needs an API key", hint="enter a seller key in the page")
    return caller


@api.get("/fills")
def fills(
    db: DatabaseDep,
    page: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 15,
) -> dict[str, Any]:
    """Newest fills first, one page (no buyer or seller names: this is market data)."""
    with db.read() as session:
        result = queries.fills_page(session, page=page, page_size=page_size)
        out = result.to_dict()
        out["latest_fill_id"] = result.items[0]["id"] if result.items and page == 1 else None
    return out


@api.get("/ticker")
def ticker(db: DatabaseDep) -> dict[str, Any]:
    """Newest fill id and fill counts (direct orders and call auctions share one table):
    what the page polls to know when to refresh."""
    from suanli.store.market import last_round
    from suanli.store.models import ClearingRoundRow

    with db.read() as session:
        out = queries.ticker(session)
        out["auction_fills_total"] = int(
            session.scalar(select(func.count(Fill.id)).where(Fill.kind == "auction")) or 0
        )
        out["auction_rounds"] = int(session.scalar(select(func.count(ClearingRoundRow.id))) or 0)
        out["last_round"] = last_round(session)
    return out


@api.get("/auction-fills")
def auction_fills(
    db: DatabaseDep, limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 10
) -> dict[str, Any]:
    """The newest fills of the call auctions (market data: no buyer or seller names)."""
    from suanli.store.models import Lease

    with db.read() as session:
        total = session.scalar(select(func.count(Fill.id)).where(Fill.kind == "auction")) or 0
        rows = session.execute(
            select(Fill.id, Fill.created_at, Fill.gpu, Fill.site, Fill.gpus,
                   Fill.price_cny_per_gpu_hour, Fill.pricing, Lease.hours)
            .join(Lease, Lease.id == Fill.lease_id, isouter=True)
            .where(Fill.kind == "auction")
            .order_by(Fill.id.desc())
            .limit(limit)
        ).all()  # fmt: skip
    return {
        "total": int(total),
        "items": [
            {
                "id": r.id,
                "time": queries.iso(queries.as_utc(r.created_at)),
                "gpu": r.gpu,
                "hub": r.site,
                "gpus": r.gpus,
                "hours": r.hours,
                "price_cny_per_gpu_hour": r.price_cny_per_gpu_hour,
                "pricing": r.pricing,
            }
            for r in rows
        ],
    }


@api.get("/index")
def index(
    cache: AggregateCacheDep,
    db: DatabaseDep,
    gpu: Annotated[str, Query(max_length=64)] = "H100-SXM",
    hub: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    pricing: Annotated[str, Query(pattern="^(on-demand|interruptible|reserved)$")] = "on-demand",
) -> dict[str, Any]:
    """The price index of one GPU model (optionally one hub or region): the exchange's one
    index function (:func:`suanli.store.index.price_index_document`, same look-back window
    as the API and the CLI) shaped for the chart."""
    from suanli.catalog import gpu as catalog_gpu

    name = catalog_gpu(gpu).name
    key = ("index", name, hub, period, pricing)
    return dict(_cached(cache, key, lambda: _index(db, name, hub, period, pricing)))


def _index(db: Database, name: str, hub: str | None, period: str, pricing: str) -> dict[str, Any]:
    from suanli.catalog import reference_price
    from suanli.store.index import price_index_document

    with db.read() as session:
        doc = price_index_document(session, gpu=name, hub=hub or None, period=period,
                                   pricing=pricing)  # fmt: skip
    try:
        ref = reference_price(name)
        reference: float | None = ref.cny_per_gpu_hour
        reference_doc: dict[str, Any] | None = {
            "cny_per_gpu_hour": ref.cny_per_gpu_hour,
            "unit": "CNY per GPU-hour",
            "date": ref.date,
            "kind": ref.kind,
            "source": ref.source,
        }
    except NotFound:  # a GPU without a reference price
        reference, reference_doc = None, None
    return {
        "gpu": doc["gpu"],
        "hub": doc["hub"],
        "period": period,
        "pricing": pricing,
        "method": doc["method"],
        "window_days": doc["window_days"],
        "reference_cny_per_gpu_hour": reference,
        "reference": reference_doc,
        "points": [
            {
                "t": queries.iso(datetime.fromtimestamp(p["start_h"] * 3600.0, UTC)),
                "v": round(p["cny_per_gpu_hour"], 4),
                "gpu_hours": round(p["gpu_hours"], 2),
                "fills": p["fills"],
                "stale": p["stale"],
            }
            for p in doc["points"]
        ],
    }


@api.get("/utilization")
def utilization(
    cache: AggregateCacheDep, db: DatabaseDep, hours: Annotated[int, Query(ge=1, le=24 * 366)] = 72
) -> dict[str, Any]:
    """Utilization by hub: now, and over the last ``hours`` in about 48 buckets."""

    def compute() -> dict[str, Any]:
        with db.read() as session:
            return {
                "now": queries.capacity_by_hub(session),
                "series": queries.utilization_series(session, hours=hours),
                "hours": hours,
            }

    return dict(_cached(cache, ("utilization", hours), compute))


@api.get("/whoami")
def whoami(caller: RequiredCaller) -> dict[str, Any]:
    """The key's id, role and tenant (never the key itself)."""
    return {"key_id": caller.key_id, "role": caller.role, "tenant": caller.tenant}


@api.get("/requests")
def my_requests(
    db: DatabaseDep,
    caller: RequiredCaller,
    page: PageNo = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 20,
) -> dict[str, Any]:
    """The requests this key may see, newest first, one page."""
    with db.read() as session:
        return requests_page(session, caller, page_no=page, page_size=page_size).to_dict()


@api.get("/requests/{request_id}")
def request_page(
    db: DatabaseDep, caller: RequiredCaller, request_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> dict[str, Any]:
    """One request's placement, per-region RTT and TTFT against target, and cost."""
    with db.read() as session:
        return request_detail(session, caller, request_id)


@api.get("/offers/{offer_id}")
def offer_page(
    db: DatabaseDep, offer_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> dict[str, Any]:
    """One offer (market data, no seller name): site, fabric, verification, prices paid."""
    with db.read() as session:
        return queries.offer_detail(session, offer_id)


@api.get("/index.csv")
def index_csv(
    cache: AggregateCacheDep,
    db: DatabaseDep,
    gpu: Annotated[str, Query(max_length=64)] = "H100-SXM",
    hub: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    pricing: Annotated[str, Query(pattern="^(on-demand|interruptible|reserved)$")] = "on-demand",
) -> Response:
    """The price index series as CSV: period start in UTC (ISO 8601) and in Asia/Shanghai,
    price, GPU-hours traded, fills, and whether the value was carried forward."""
    import csv
    import io
    from zoneinfo import ZoneInfo

    doc = index(cache, db, gpu=gpu, hub=hub, period=period, pricing=pricing)
    shanghai = ZoneInfo("Asia/Shanghai")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["period_start_utc", "period_start_asia_shanghai", "gpu", "hub", "pricing",
         "cny_per_gpu_hour", "gpu_hours", "fills", "stale"]
    )  # fmt: skip
    for p in doc["points"]:
        start = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        writer.writerow(
            [p["t"], start.astimezone(shanghai).isoformat(), doc["gpu"], doc["hub"] or "all",
             pricing, p["v"], p["gpu_hours"], p["fills"], str(p["stale"]).lower()]
        )  # fmt: skip
    name = f"suanli-index-{doc['gpu']}-{doc['hub'] or 'all'}-{pricing}-{period}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@api.get("/book")
def book(db: DatabaseDep, every_s: ClearEveryDep) -> dict[str, Any]:
    """Depth of the call auction's book: open bids and asks per instrument, summed per price
    level (market data: no accounts), and when the next clearing runs."""
    from suanli.store.market import open_orders

    with db.read() as session:
        orders = open_orders(session)
    return queries.book_depth(orders, every_s=every_s, now_s=time.time())


router.include_router(api)
