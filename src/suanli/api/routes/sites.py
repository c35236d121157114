"""``/sites``: the catalog's data-center sites with the GPUs listed there (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from suanli.api.deps import DatabaseDep, Paging
from suanli.api.schemas import Page, SiteOut
from suanli.errors import NotFound
from suanli.store.models import Offer

router = APIRouter(prefix="/sites", tags=["sites"])


def _site_rows(db: DatabaseDep) -> list[dict[str, Any]]:
    from suanli.catalog import sites

    with db.read() as session:
        totals = {
            site: (int(listed), int(free))
            for site, listed, free in session.execute(
                select(Offer.site, func.sum(Offer.count), func.sum(Offer.available))
                .where(Offer.status == "open")
                .group_by(Offer.site)
            )
        }
    rows = []
    for s in sites():
        listed, free = totals.get(s.id, (0, 0))
        rows.append(
            SiteOut(
                id=s.id,
                name=s.name,
                province=s.province,
                hub=s.hub,
                role=s.role,
                region=s.region,
                lat=s.lat,
                lon=s.lon,
                power_cny_per_kwh=s.power_cny_per_kwh,
                gpus_listed=listed,
                gpus_available=free,
            ).model_dump()
        )
    return rows


@router.get("", response_model=Page[SiteOut])
def list_sites(db: DatabaseDep, paging: Paging) -> dict[str, object]:
    """Every catalog site, with GPUs listed and free on open offers there."""
    rows = _site_rows(db)
    chunk = rows[paging.offset : paging.offset + paging.limit]
    return paging.wrap(list(chunk), len(rows))


@router.get("/{site_id}", response_model=SiteOut, responses={404: {"description": "no such site"}})
def get_site(site_id: str, db: DatabaseDep) -> dict[str, Any]:
    """One site by id or name (unknown names get the closest matches)."""
    from suanli.catalog import site

    found = site(site_id[:200])
    for row in _site_rows(db):
        if row["id"] == found.id:
            return row
    raise NotFound(f"no site {site_id!r}")  # pragma: no cover - catalog and rows agree
