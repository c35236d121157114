"""Bulk market history written straight through the store's tables (no HTTP), for the
volume test and to give the browser tests a price and utilization history to draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select, update

from suanli.catalog import gpus, sites
from suanli.store import Database
from suanli.store.models import Fill, Lease, Offer, Order

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
    with db.write() as s:
        s.execute(insert(Offer), rows)


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
    still hold their GPUs (the offers' free capacity goes down to match)."""
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
        durations_h = rng.uniform(1, max_hours, size=n_fills)
        drift = 1 + 0.08 * np.sin(np.linspace(0, 6 * np.pi, n_fills))
        noise = rng.uniform(0.9, 1.1, size=n_fills)
        active = rng.uniform(size=n_fills) < active_share
        leases, fills = [], []
        taken: dict[int, int] = {}
        for i in range(n_fills):
            o = offers[int(pick[i])]
            gpus_i = int(sizes[i])
            still_active = bool(active[i]) and taken.get(o.id, 0) + gpus_i <= o.available
            if still_active:
                taken[o.id] = taken.get(o.id, 0) + gpus_i
            start = now - timedelta(hours=float(ages_h[i]))
            end = min(now, start + timedelta(hours=float(durations_h[i])))
            price = round(o.price_cny_per_gpu_hour * float(drift[i] * noise[i]), 2)
            lease_id = first_lease + i
            leases.append(
                {
                    "id": lease_id, "order_id": order_id, "offer_id": o.id, "buyer": "history",
                    "seller": o.seller, "gpu": o.gpu, "site": o.site, "hub": o.hub,
                    "gpus": gpus_i, "price_cny_per_gpu_hour": price,
                    "hours": round(float(durations_h[i]), 2),
                    "status": "active" if still_active else "ended",
                    "created_at": start, "ended_at": None if still_active else end,
                }
            )  # fmt: skip
            fills.append(
                {
                    "order_id": order_id, "lease_id": lease_id, "offer_id": o.id,
                    "buyer": "history", "seller": o.seller, "gpu": o.gpu, "site": o.site,
                    "hub": o.hub, "gpus": gpus_i, "price_cny_per_gpu_hour": price,
                    "interruptible": o.interruptible, "created_at": start,
                }
            )  # fmt: skip
        s.execute(insert(Lease), leases)
        s.execute(insert(Fill), fills)
        for offer_id, gpus_taken in taken.items():
            s.execute(
                update(Offer)
                .where(Offer.id == offer_id)
                .values(available=Offer.available - gpus_taken)
                .execution_options(synchronize_session=False)
            )


def backdate_offers(db: Database, days: float) -> None:
    """Pretend every offer was listed ``days`` ago (so history can lean on it)."""
    then = datetime.now(UTC) - timedelta(days=days)
    with db.write() as s:
        s.execute(
            update(Offer).values(created_at=then).execution_options(synchronize_session=False)
        )
