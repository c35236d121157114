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
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import func, select

from suanli.api.deps import Caller, DatabaseDep, get_caller, optional_caller
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
_INDEX_WINDOWS = {"hour": timedelta(days=7), "day": timedelta(days=90)}

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
RequiredCaller = Annotated[Caller, Depends(get_caller)]
PageNo = Annotated[int, Query(ge=1, le=10_000_000, description="1-based page")]


_AGGREGATE_TTL_S = 5.0


def _cached(request: Request, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """A few seconds of per-process memory for the heavier aggregates, so any number of
    open pages polling at once cost the database one query per key per TTL."""
    cache: dict[tuple[Any, ...], tuple[float, Any]] | None = getattr(
        request.app.state, "web_cache", None
    )
    if cache is None:
        cache = request.app.state.web_cache = {}
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
def ticker(request: Request, db: DatabaseDep) -> dict[str, Any]:
    """Newest fill id and fill counts (direct orders and call auctions): what the page
    polls to know when to refresh."""
    from suanli.api.routes.market import store as market_store

    with db.read() as session:
        out = queries.ticker(session)
    state = market_store(request).state()
    out["auction_fills_total"] = len(state.fills)
    out["auction_rounds"] = state.rounds
    return out


@api.get("/auction-fills")
def auction_fills(
    request: Request, limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 10
) -> dict[str, Any]:
    """The newest fills of the call auctions (market data: no buyer or seller names)."""
    from suanli.api.routes.market import store as market_store

    fills = market_store(request).state().fills
    newest = sorted(fills, key=lambda f: (f.cleared_at_h, f.id), reverse=True)[:limit]
    return {
        "total": len(fills),
        "items": [
            {
                "id": f.id,
                "time": queries.iso(datetime.fromtimestamp(f.cleared_at_h * 3600.0, UTC)),
                "gpu": f.instrument.gpu,
                "hub": f.instrument.hub,
                "gpus": f.gpus,
                "hours": f.instrument.hours,
                "price_cny_per_gpu_hour": f.price_fen_per_gpu_hour / 100.0,
                "pricing": f.instrument.pricing.value,
            }
            for f in newest
        ],
    }


@api.get("/index")
def index(
    request: Request,
    db: DatabaseDep,
    gpu: Annotated[str, Query(max_length=64)] = "H100-SXM",
    hub: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    pricing: Annotated[str, Query(pattern="^(on-demand|interruptible|reserved)$")] = "on-demand",
) -> dict[str, Any]:
    """The price index of one GPU model (optionally one hub or region) over the last 7 days
    (hourly) or 90 days (daily): the market's own method
    (:func:`suanli.market.index.index_document`: GPU-hour-weighted 10% trimmed mean per
    period, pricing types never mixed) over call-auction fills and the service's direct
    fills, read only for that window."""
    from suanli.catalog import gpu as catalog_gpu

    name = catalog_gpu(gpu).name
    key = ("index", name, hub, period, pricing)
    return dict(_cached(request, key, lambda: _index(request, db, name, hub, period, pricing)))


def _index(
    request: Request, db: Database, name: str, hub: str | None, period: str, pricing: str
) -> dict[str, Any]:
    from suanli.api.routes.market import store as market_store
    from suanli.catalog import reference_price
    from suanli.market.index import index_document

    start = datetime.now(UTC) - _INDEX_WINDOWS[period]
    start_h = start.timestamp() / 3600.0
    fills: list[Any] = [f for f in market_store(request).state().fills if f.cleared_at_h >= start_h]
    if pricing != "reserved":  # direct orders are on-demand or interruptible
        with db.read() as session:
            records = queries.fill_window(session, gpu=name, since=start, pricing=pricing)
        fills.extend(_market_fills(records, name, pricing))
    doc = index_document(
        fills,
        gpu=name,
        hub=hub or None,
        period=period,
        pricing=pricing,
        now_h=datetime.now(UTC).timestamp() / 3600.0,
    )
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


def _market_fills(records: list[dict[str, Any]], gpu: str, pricing: str) -> list[Any]:
    """Direct-order fill records as market fills. Every field is already canonical (a
    catalog GPU name, a site id), so the instruments are built without re-validating each
    one, which keeps a window of many thousands of fills cheap."""
    from suanli.market import Fill as MarketFill
    from suanli.market import Pricing
    from suanli.market.orders import Instrument, fen

    kind = Pricing(pricing)
    return [
        MarketFill(
            id=r["id"],
            instrument=Instrument(gpu, r["site"], kind, r["at_h"], r["at_h"] + r["hours"]),
            bid_id="",
            ask_id="",
            buyer="",
            seller="",
            gpus=int(r["gpus"]),
            price_fen_per_gpu_hour=fen(float(r["price_cny_per_gpu_hour"])),
            cleared_at_h=r["at_h"],
        )
        for r in records
    ]


@api.get("/utilization")
def utilization(
    request: Request, db: DatabaseDep, hours: Annotated[int, Query(ge=1, le=24 * 366)] = 72
) -> dict[str, Any]:
    """Utilization by hub: now, and over the last ``hours`` in about 48 buckets."""

    def compute() -> dict[str, Any]:
        with db.read() as session:
            return {
                "now": queries.capacity_by_hub(session),
                "series": queries.utilization_series(session, hours=hours),
                "hours": hours,
            }

    return dict(_cached(request, ("utilization", hours), compute))


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
    request: Request,
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

    doc = index(request, db, gpu=gpu, hub=hub, period=period, pricing=pricing)
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
def book(request: Request) -> dict[str, Any]:
    """Depth of the call auction's book: open bids and asks per instrument, summed per price
    level (market data: no accounts), and when the next clearing runs."""
    from suanli.api.routes.market import store as market_store

    orders = market_store(request).state().book.orders
    every_s = float(getattr(request.app.state, "clear_every_s", 0.0) or 0.0)
    return queries.book_depth(orders, every_s=every_s, now_s=time.time())


router.include_router(api)
