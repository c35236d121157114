"""The price index of the exchange: the one function the API, the dashboard and the CLI call.

It reads the fills of one GPU model and pricing type from the ``fills`` table (direct orders
and call-auction fills alike, with catalog site ids) over one look-back window, and hands
them to :func:`suanli.market.index.index_document` (the method: GPU-hour-weighted mean with
10% of GPU-hours trimmed from each end, per hour or day). Only the window is read, so its
cost does not grow with the exchange's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.errors import InvalidRequest
from suanli.market.clearing import Fill as MarketFill
from suanli.market.index import index_document
from suanli.market.orders import Instrument, Pricing, fen, resolve_gpu
from suanli.store.models import Fill, Lease

# The look-back window: 7 days of hourly points, 90 days of daily ones.
WINDOW_DAYS = {"hour": 7.0, "day": 90.0}


def window_days(period: str, days: float | None = None) -> float:
    """The look-back in days: ``days`` when given, else the period's default."""
    return float(days) if days is not None else WINDOW_DAYS.get(period, WINDOW_DAYS["hour"])


def window_fills(session: Session, *, gpu: str, pricing: str, since: datetime) -> list[MarketFill]:
    """Fills of catalog GPU ``gpu`` under ``pricing`` made at or after ``since``, as the
    market core's fills (a fill's weight is its GPUs x its lease's hours, 1 h if open)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    lower = since.astimezone(UTC).replace(tzinfo=None) if sqlite else since
    rows = session.execute(
        select(Fill.id, Fill.created_at, Fill.gpus, Fill.price_cny_per_gpu_hour, Fill.site,
               Lease.hours)
        .join(Lease, Lease.id == Fill.lease_id, isouter=True)
        .where(Fill.gpu == gpu, Fill.pricing == pricing, Fill.created_at >= lower)
        .order_by(Fill.id)
    )  # fmt: skip
    kind = Pricing(pricing)
    out = []
    for fill_id, created, gpus, price, site, hours in rows:
        at = (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp() / 3600.0
        span = float(hours) if hours else 1.0
        # Rows hold canonical names (a catalog GPU, a site id): no re-validation per fill.
        out.append(
            MarketFill(str(fill_id), Instrument(gpu, site, kind, at, at + span), "", "", "", "",
                       int(gpus), fen(float(price)), at)
        )  # fmt: skip
    return out


def price_index_document(
    session: Session,
    *,
    gpu: str,
    hub: str | None = None,
    period: str = "hour",
    pricing: str = "on-demand",
    days: float | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The index document for ``gpu`` (and ``hub``) over the look-back window, with the
    window stated in it (``window_days``)."""
    try:
        kind = Pricing(pricing)
    except ValueError:
        raise InvalidRequest(
            f"unknown pricing type {pricing!r}", field="pricing",
            hint="Use on-demand, interruptible or reserved.",
        ) from None  # fmt: skip
    moment = now or datetime.now(UTC)
    look_back = window_days(period, days)
    canonical = resolve_gpu(gpu)
    fills = window_fills(
        session, gpu=canonical, pricing=kind.value,
        since=moment - timedelta(days=look_back),
    )  # fmt: skip
    doc = index_document(
        fills, gpu=canonical, hub=hub, period=period, pricing=pricing,
        now_h=moment.timestamp() / 3600.0,
    )  # fmt: skip
    doc["window_days"] = look_back
    return doc
