"""Read-only aggregate queries behind the dashboard.

Every function returns one bounded page or one aggregate computed by the database
(``GROUP BY``, ``count``, ``sum``), never a whole table, so the page stays fast with
thousands of offers and hundreds of thousands of fills. Public functions here see only
market data (no buyer or seller names); private ones take the :class:`Caller` and reuse the
store's visibility rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Integer, cast, func, or_, select
from sqlalchemy.orm import Session

from suanli.errors import InvalidRequest
from suanli.store.keys import Caller
from suanli.store.models import Fill, Lease, Offer

MAX_PAGE_SIZE = 200
JULIAN_DAY_OF_1970 = 2440587.5
OFFER_SORTS: dict[str, Any] = {
    "id": Offer.id,
    "site": Offer.site,
    "hub": Offer.hub,
    "gpu": Offer.gpu,
    "count": Offer.count,
    "available": Offer.available,
    "price": Offer.price_cny_per_gpu_hour,
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows (already JSON-ready dicts) and the total number matching."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
        }


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """An ISO-8601 UTC timestamp for JSON."""
    aware = as_utc(moment)
    return aware.isoformat().replace("+00:00", "Z") if aware else None


def check_page(page: int, page_size: int) -> tuple[int, int]:
    """(limit, offset) of a 1-based page; bad values are a 422 naming the field."""
    if page < 1:
        raise InvalidRequest("page starts at 1", field="page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page_size must be 1-{MAX_PAGE_SIZE}", field="page_size")
    return page_size, (page - 1) * page_size


def epoch_s(column: Any, dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored UTC timestamp, as SQL for either backend."""
    if dialect == "sqlite":
        # julianday() parses the stored text about twice as fast as strftime('%s')
        return (func.julianday(column) - JULIAN_DAY_OF_1970) * 86400.0
    return func.extract("epoch", column)


# ---------- offers and fills ----------


def offers_page(
    session: Session,
    *,
    gpu: str | None = None,
    hub: str | None = None,
    site: str | None = None,
    min_available: int | None = None,
    max_price: float | None = None,
    seller: str | None = None,
    sort: str = "price",
    order: str = "asc",
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """Open offers matching the filters, sorted, one page. ``seller`` limits to one tenant."""
    limit, offset = check_page(page, page_size)
    if sort not in OFFER_SORTS:
        raise InvalidRequest(
            f"cannot sort offers by {sort!r}", field="sort", hint="use " + ", ".join(OFFER_SORTS)
        )
    if order not in ("asc", "desc"):
        raise InvalidRequest("order is asc or desc", field="order")
    where: list[ColumnElement[bool]] = [Offer.status == "open"]
    if gpu:
        where.append(func.lower(Offer.gpu) == gpu.lower())
    if hub:
        where.append(or_(func.lower(Offer.hub) == hub.lower(), Offer.region_role == hub.lower()))
    if site:
        where.append(Offer.site == site)
    if min_available is not None:
        where.append(Offer.available >= min_available)
    if max_price is not None:
        where.append(Offer.price_cny_per_gpu_hour <= max_price)
    if seller is not None:
        where.append(Offer.seller == seller)
    column = OFFER_SORTS[sort]
    ordering = [column.desc() if order == "desc" else column.asc(), Offer.id.asc()]
    total = session.scalar(select(func.count(Offer.id)).where(*where)) or 0
    rows = session.scalars(
        select(Offer).where(*where).order_by(*ordering).limit(limit).offset(offset)
    )
    names = _site_names()
    items = [
        {
            "id": o.id,
            "site": o.site,
            "site_name": names.get(o.site, o.site),
            "hub": o.hub,
            "gpu": o.gpu,
            "count": o.count,
            "available": o.available,
            "gpus_per_node": o.gpus_per_node,
            "fabric": o.fabric,
            "price_cny_per_gpu_hour": o.price_cny_per_gpu_hour,
            "interruptible": o.interruptible,
        }
        for o in rows
    ]
    return Page(items, int(total), page, page_size)


def fills_page(session: Session, *, page: int = 1, page_size: int = 15) -> Page:
    """Newest fills first (market data: no buyer or seller names), one page."""
    limit, offset = check_page(page, page_size)
    total = session.scalar(select(func.count(Fill.id))) or 0
    rows = session.execute(
        select(
            Fill.id,
            Fill.created_at,
            Fill.gpu,
            Fill.hub,
            Fill.site,
            Fill.gpus,
            Fill.price_cny_per_gpu_hour,
            Fill.interruptible,
            Lease.hours,
        )
        .join(Lease, Lease.id == Fill.lease_id, isouter=True)
        .order_by(Fill.id.desc())
        .limit(limit)
        .offset(offset)
    )
    names = _site_names()
    items = [
        {
            "id": r.id,
            "time": iso(r.created_at),
            "gpu": r.gpu,
            "hub": r.hub,
            "site": r.site,
            "site_name": names.get(r.site, r.site),
            "gpus": r.gpus,
            "hours": r.hours,
            "price_cny_per_gpu_hour": r.price_cny_per_gpu_hour,
            "pricing": "interruptible" if r.interruptible else "on-demand",
        }
        for r in rows
    ]
    return Page(items, int(total), page, page_size)


def ticker(session: Session) -> dict[str, Any]:
    """The cheapest "did anything trade?" answer: newest fill id and fill count."""
    row = session.execute(select(func.max(Fill.id), func.count(Fill.id))).one()
    return {"latest_fill_id": row[0], "fills_total": int(row[1] or 0)}


# ---------- capacity and utilization ----------


def capacity_by_site(session: Session) -> dict[str, tuple[int, int]]:
    """Site id -> (GPUs listed, GPUs leased) over open offers (GPUs held by resting asks
    are neither free nor leased)."""
    rows = session.execute(
        select(
            Offer.site,
            func.sum(Offer.count),
            func.sum(Offer.count - Offer.available - Offer.reserved),
        )
        .where(Offer.status == "open")
        .group_by(Offer.site)
    )
    return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}


def capacity_by_hub(session: Session) -> list[dict[str, Any]]:
    """Per hub now: sites with capacity, GPUs listed and leased, utilization."""
    rows = session.execute(
        select(
            Offer.hub,
            func.count(func.distinct(Offer.site)),
            func.sum(Offer.count),
            func.sum(Offer.count - Offer.available - Offer.reserved),
        )
        .where(Offer.status == "open")
        .group_by(Offer.hub)
        .order_by(Offer.hub)
    )
    out = []
    for hub, n_sites, listed, leased in rows:
        listed_i, leased_i = int(listed or 0), int(leased or 0)
        out.append(
            {
                "hub": hub,
                "sites": int(n_sites),
                "gpus_listed": listed_i,
                "gpus_leased": leased_i,
                "utilization": leased_i / listed_i if listed_i else 0.0,
            }
        )
    return out


def _bucket_sums(
    session: Session,
    hub_col: Any,
    time_col: Any,
    amount: Any,
    where: Sequence[ColumnElement[bool]],
    *,
    start_s: int,
    bucket_s: int,
) -> list[tuple[str, int, float]]:
    """(hub, bucket index, summed amount) for rows whose time falls in the window."""
    dialect = session.get_bind().dialect.name
    offset = epoch_s(time_col, dialect) - start_s
    # SQLite's CAST truncates, which floors the offsets here (all >= 0); PostgreSQL's
    # numeric-to-integer cast rounds, so floor first there
    bucket = cast(
        offset / bucket_s if dialect == "sqlite" else func.floor(offset / bucket_s), Integer
    )
    rows = session.execute(
        select(hub_col, bucket, func.sum(amount)).where(*where).group_by(hub_col, bucket)
    )
    return [(r[0], int(r[1]), float(r[2] or 0)) for r in rows if r[1] is not None]


def utilization_series(
    session: Session, *, hours: int, buckets: int = 48, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Utilization by hub over the last ``hours``: leased GPUs / listed GPUs per bucket.

    Each series is built from a handful of ``GROUP BY hub, bucket`` sums of events (leases
    starting and ending; offers listed), accumulated with NumPy, so its cost grows with
    hubs x buckets, not with the number of leases. Listed capacity counts each offer's
    current GPUs from its listing time on (capacity later withdrawn is not replayed).
    """
    if not 1 <= hours <= 24 * 366:
        raise InvalidRequest("hours must be 1-8784", field="hours")
    end = as_utc(now) or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    bucket_s = max(60, int(hours * 3600 / buckets))
    n = int(np.ceil(hours * 3600 / bucket_s))
    start_s = int(start.timestamp())
    naive_start = start.replace(tzinfo=None) if _is_sqlite(session) else start

    leased_before = dict(
        session.execute(
            select(Lease.hub, func.sum(Lease.gpus))
            .where(
                Lease.created_at < naive_start,
                or_(Lease.ended_at.is_(None), Lease.ended_at >= naive_start),
                Lease.status.in_(("pending", "active", "ended", "preempted", "cancelled")),
            )
            .group_by(Lease.hub)
        ).all()
    )
    listed_before = dict(
        session.execute(
            select(Offer.hub, func.sum(Offer.count))
            .where(Offer.created_at < naive_start)
            .group_by(Offer.hub)
        ).all()
    )
    started = _bucket_sums(
        session,
        Lease.hub,
        Lease.created_at,
        Lease.gpus,
        [Lease.created_at >= naive_start],
        start_s=start_s,
        bucket_s=bucket_s,
    )
    ended = _bucket_sums(
        session,
        Lease.hub,
        Lease.ended_at,
        Lease.gpus,
        [Lease.ended_at.is_not(None), Lease.ended_at >= naive_start],
        start_s=start_s,
        bucket_s=bucket_s,
    )
    listed = _bucket_sums(
        session,
        Offer.hub,
        Offer.created_at,
        Offer.count,
        [Offer.created_at >= naive_start],
        start_s=start_s,
        bucket_s=bucket_s,
    )
    hubs = sorted(set(listed_before) | {h for h, _, _ in listed} | set(leased_before))
    series = []
    for hub in hubs:
        lease_delta = np.zeros(n)
        list_delta = np.zeros(n)
        # an event at exactly "now" lands one past the last bucket: count it in the last
        for h, b, amount in started:
            if h == hub and b >= 0:
                lease_delta[min(b, n - 1)] += amount
        for h, b, amount in ended:
            if h == hub and b >= 0:
                lease_delta[min(b, n - 1)] -= amount
        for h, b, amount in listed:
            if h == hub and b >= 0:
                list_delta[min(b, n - 1)] += amount
        leased = float(leased_before.get(hub) or 0) + np.cumsum(lease_delta)
        capacity = float(listed_before.get(hub) or 0) + np.cumsum(list_delta)
        util = np.divide(leased, capacity, out=np.zeros(n), where=capacity > 0)
        points = [
            {
                "t": iso(start + timedelta(seconds=(i + 1) * bucket_s)),
                "v": round(float(min(1.0, max(0.0, util[i]))), 4),
            }
            for i in range(n)
            if capacity[i] > 0
        ]
        series.append({"hub": hub, "points": points})
    return series


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _site_names() -> dict[str, str]:
    from suanli.catalog import sites

    return {s.id: s.name for s in sites()}


# ---------- private views ----------


def offers_for(caller: Caller) -> str | None:
    """The seller filter for a caller's "my offers" view (None: the operator sees all)."""
    if caller.is_operator:
        return None
    if caller.role != "seller":
        from suanli.errors import Forbidden

        raise Forbidden("only sellers list offers", hint="use a seller key for 'mine only'")
    return caller.tenant


# ---------- one offer ----------


def offer_detail(session: Session, offer_id: int, *, fills_limit: int = 200) -> dict[str, Any]:
    """One offer as market data (no seller name): its site, fabric, verification and the
    prices paid on it, newest fill first (at most ``fills_limit``)."""
    from suanli.catalog import site as catalog_site
    from suanli.errors import NotFound
    from suanli.store.gateway import offer_measured
    from suanli.store.verification_tables import verified_since

    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"no offer {offer_id}")
    gpu_name = _catalog_gpu(offer.gpu)
    verified = verified_since(session, [(offer.seller, gpu_name)]).get((offer.seller, gpu_name))
    measured = offer_measured(session, offer_id)
    if measured is not None:
        measured = {**measured, "since": iso(measured["since"]), "until": iso(measured["until"])}
    try:
        s = catalog_site(offer.site)
        place: dict[str, Any] = {
            "site_name": s.name,
            "province": s.province,
            "lat": s.lat,
            "lon": s.lon,
            "power_cny_per_kwh": s.power_cny_per_kwh,
            "pue": s.pue,
        }
    except NotFound:  # a site no longer in the catalog keeps its id
        place = {"site_name": offer.site, "province": None, "lat": None, "lon": None}
    rows = session.execute(
        select(Fill.id, Fill.created_at, Fill.gpus, Fill.price_cny_per_gpu_hour,
               Fill.interruptible, Lease.hours)
        .join(Lease, Lease.id == Fill.lease_id, isouter=True)
        .where(Fill.offer_id == offer_id)
        .order_by(Fill.id.desc())
        .limit(fills_limit)
    )  # fmt: skip
    return {
        "id": offer.id,
        "site": offer.site,
        **place,
        "hub": offer.hub,
        "region": offer.region_role,
        "gpu": offer.gpu,
        "count": offer.count,
        "available": offer.available,
        "gpus_per_node": offer.gpus_per_node,
        "fabric": offer.fabric,
        "price_cny_per_gpu_hour": offer.price_cny_per_gpu_hour,
        "interruptible": offer.interruptible,
        "status": offer.status,
        "created_at": iso(offer.created_at),
        "verified": verified is not None,
        "verified_at": iso(verified),
        "measured": measured,  # served traffic the exchange measured (emulators excluded)
        "fills": [
            {
                "id": r.id,
                "time": iso(r.created_at),
                "gpus": r.gpus,
                "hours": r.hours,
                "price_cny_per_gpu_hour": r.price_cny_per_gpu_hour,
                "pricing": "interruptible" if r.interruptible else "on-demand",
            }
            for r in rows
        ],
    }


def _catalog_gpu(name: str) -> str:
    from suanli.catalog import gpu
    from suanli.errors import NotFound

    try:
        return gpu(name).name
    except NotFound:  # an unknown model keeps its stored name
        return name


# ---------- call-auction book ----------


def book_depth(orders: Sequence[Any], *, every_s: float, now_s: float) -> dict[str, Any]:
    """Open bids and asks per instrument, summed per price level (bids best first, asks best
    first), and the time of the next clearing when the exchange clears on a schedule."""
    grouped: dict[str, dict[str, Any]] = {}
    levels: dict[tuple[str, str, int], dict[str, Any]] = {}
    for o in orders:
        inst = o.instrument
        key = inst.key
        if key not in grouped:
            grouped[key] = {
                "key": key,
                "gpu": inst.gpu,
                "hub": inst.hub,
                "pricing": inst.pricing.value,
                "start": iso(datetime.fromtimestamp(inst.start_h * 3600.0, UTC)),
                "hours": inst.hours,
                "levels": [],
            }
        side = o.side.value if hasattr(o.side, "value") else str(o.side)
        side = "bid" if side.lower().startswith("b") else "ask"
        lk = (key, side, int(o.price_fen_per_gpu_hour))
        if lk not in levels:
            levels[lk] = {
                "side": side,
                "price_cny_per_gpu_hour": o.price_fen_per_gpu_hour / 100.0,
                "gpus": 0,
                "orders": 0,
            }
            grouped[key]["levels"].append(levels[lk])
        levels[lk]["gpus"] += int(o.quantity_gpus)
        levels[lk]["orders"] += 1
    for g in grouped.values():
        asks = sorted((lv for lv in g["levels"] if lv["side"] == "ask"),
                      key=lambda lv: lv["price_cny_per_gpu_hour"])  # fmt: skip
        bids = sorted((lv for lv in g["levels"] if lv["side"] == "bid"),
                      key=lambda lv: -lv["price_cny_per_gpu_hour"])  # fmt: skip
        g["levels"] = asks[::-1] + bids  # asks above bids, the spread in the middle
    next_at = None
    if every_s > 0:
        next_s = (now_s // every_s + 1) * every_s
        next_at = iso(datetime.fromtimestamp(next_s, UTC))
    return {
        "instruments": sorted(grouped.values(), key=lambda g: g["key"]),
        "clear_every_s": every_s or None,
        "next_clearing": next_at,
        "clearing_note": None if every_s > 0 else "clears when the operator runs a round",
    }
