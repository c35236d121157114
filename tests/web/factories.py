"""Bulk market history written straight through the store's tables (no HTTP), for the
volume test and to give the browser tests a price and utilization history to draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select, update

from suanli.catalog import gpus, sites
from suanli.store import Database
from suanli.store.models import Lease, Offer, Order

FABRICS = ("nvlink-ib", "nvlink-roce", "pcie-eth")


def insert_offers(db: Database, n: int, *, seed: int = 0, days_back: float = 30) -> None:
    """``n`` open offers spread over every catalog site and GPU, listed in the past."""
    rng = np.random.default_rng(seed)
    all_sites, all_gpus = sites(), gpus()
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        s = all_sites[i % len(all_sites)]
        count = int(rng.choice([8, 16, 32, 64, 128, 256]))
        created = now - timedelta(days=days_back * float(rng.uniform(0.9, 1.0)))
        rows.append(
            {
                "seller": f"seller-{i % 40}",
                "site": s.id,
                "hub": s.region,
                "region_role": s.role,
                "gpu": all_gpus[int(rng.integers(len(all_gpus)))].name,
                "count": count,
                "available": count,
                "gpus_per_node": 8,
                "price_cny_per_gpu_hour": round(float(rng.uniform(1.5, 18.0)), 2),
                "fabric": FABRICS[i % len(FABRICS)],
                "start_h": 0.0,
                "interruptible": bool(i % 7 == 0),
                "status": "open",
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    with db.write() as session:
        session.execute(insert(Offer), rows)


def _sqlite_times(now: datetime, hours_ago: np.ndarray) -> list[str]:
    """UTC times ``hours_ago`` before ``now`` in the text form SQLAlchemy stores in SQLite."""
    base = np.datetime64(now.replace(tzinfo=None), "us")
    stamps = base - (hours_ago * 3.6e9).astype("timedelta64[us]")
    return [t.replace("T", " ") for t in np.datetime_as_string(stamps, unit="us")]


def insert_history(
    db: Database,
    n_fills: int,
    *,
    hours_back: float,
    seed: int = 0,
    gpu: str | None = None,
    active_share: float = 0.0,
    max_hours: float = 24.0,
) -> None:
    """``n_fills`` past trades (order, lease and fill rows) on the open offers, spread over
    the last ``hours_back`` hours. Leases have ended, except ``active_share`` of them, which
    still hold their GPUs (the offers' free capacity goes down to match).

    Rows go in with one ``executemany`` per table (SQLite only), so 100,000 take seconds.
    """
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    with db.write() as s:
        query = select(
            Offer.id, Offer.seller, Offer.gpu, Offer.site, Offer.hub, Offer.available,
            Offer.price_cny_per_gpu_hour, Offer.interruptible,
        ).where(Offer.status == "open")  # fmt: skip
        if gpu is not None:
            query = query.where(Offer.gpu == gpu)
        offers = s.execute(query.order_by(Offer.id)).all()
        order_id = s.execute(
            insert(Order)
            .values(buyer="history", status="filled", gpus=0, cost_cny_per_hour=0.0, created_at=now)
            .returning(Order.id)
        ).scalar_one()
        first_lease = int(s.scalar(select(func.coalesce(func.max(Lease.id), 0))) or 0) + 1
        pick = rng.integers(len(offers), size=n_fills)
        ages_h = np.sort(rng.uniform(0, hours_back, size=n_fills))[::-1]
        sizes = rng.choice([1, 2, 4, 8], size=n_fills)
        durations_h = np.round(rng.uniform(1, max_hours, size=n_fills), 2)
        drift = 1 + 0.08 * np.sin(np.linspace(0, 6 * np.pi, n_fills))
        factor = drift * rng.uniform(0.9, 1.1, size=n_fills)
        wants_active = rng.uniform(size=n_fills) < active_share
        started = _sqlite_times(now, ages_h)
        ended = _sqlite_times(now, np.maximum(ages_h - durations_h, 0.0))
        offer_ids = np.array([o.id for o in offers])[pick]
        prices = np.round(np.array([o.price_cny_per_gpu_hour for o in offers])[pick] * factor, 2)
        taken: dict[int, int] = {}
        status = ["ended"] * n_fills
        ends: list[str | None] = list(ended)
        free = {o.id: o.available for o in offers}
        for i in np.flatnonzero(wants_active).tolist():
            oid, g = int(offer_ids[i]), int(sizes[i])
            if taken.get(oid, 0) + g <= free[oid]:
                taken[oid] = taken.get(oid, 0) + g
                status[i], ends[i] = "active", None
        names = {o.id: (o.seller, o.gpu, o.site, o.hub) for o in offers}
        leases = [
            (first_lease + i, order_id, oid, "history", *names[oid], g, p, h, st, t0, t1)
            for i, (oid, g, p, h, st, t0, t1) in enumerate(
                zip(offer_ids.tolist(), sizes.tolist(), prices.tolist(), durations_h.tolist(),
                    status, started, ends, strict=True)
            )
        ]  # fmt: skip
        conn = s.connection()
        conn.exec_driver_sql(
            "INSERT INTO leases (id, order_id, offer_id, buyer, seller, gpu, site, hub, gpus,"
            " price_cny_per_gpu_hour, hours, status, created_at, ended_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            leases,
        )
        # one fill per lease, copied inside the database
        conn.exec_driver_sql(
            "INSERT INTO fills (order_id, lease_id, offer_id, buyer, seller, gpu, site, hub,"
            " gpus, price_cny_per_gpu_hour, interruptible, created_at)"
            " SELECT l.order_id, l.id, l.offer_id, l.buyer, l.seller, l.gpu, l.site, l.hub,"
            " l.gpus, l.price_cny_per_gpu_hour, o.interruptible, l.created_at"
            " FROM leases l JOIN offers o ON o.id = l.offer_id WHERE l.id >= ? ORDER BY l.id",
            (first_lease,),
        )
        if taken:
            conn.exec_driver_sql(
                "UPDATE offers SET available = available - ? WHERE id = ?",
                [(g, oid) for oid, g in taken.items()],
            )


def backdate_offers(db: Database, days: float) -> None:
    """Pretend every offer was listed ``days`` ago (so history can lean on it)."""
    then = datetime.now(UTC) - timedelta(days=days)
    with db.write() as s:
        s.execute(
            update(Offer).values(created_at=then).execution_options(synchronize_session=False)
        )
