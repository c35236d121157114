"""Sites (national hub clusters, metro and central data centers) and demand cities."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from suanli.catalog._data import read_csv
from suanli.catalog._lookup import build_index, resolve


@dataclass(frozen=True, slots=True)
class Site:
    """A data-center site. ``role`` is ``east`` or ``west`` (hub clusters), ``metro`` or
    ``central``; ``hub`` is the national hub the cluster belongs to (empty for others)."""

    id: str
    name: str
    province: str
    hub: str
    cluster: str
    role: str
    lat: float
    lon: float
    power_cny_per_kwh: float
    pue: float
    note: str
    source: str
    name_zh: str = ""

    @property
    def region(self) -> str:
        """The hub for hub clusters, else the role (``metro``/``central``)."""
        return self.hub or self.role


@dataclass(frozen=True, slots=True)
class City:
    """A demand centre: where users are."""

    id: str
    name: str
    lat: float
    lon: float
    population_m: float
    source: str
    name_zh: str = ""


@cache
def sites() -> tuple[Site, ...]:
    """The built-in China sites, in file order."""
    return tuple(
        Site(
            id=r["id"],
            name=r["name"],
            province=r["province"],
            hub=r["hub"],
            cluster=r["cluster"],
            role=r["role"],
            lat=float(r["lat"]),
            lon=float(r["lon"]),
            power_cny_per_kwh=float(r["power_cny_per_kwh"]),
            pue=float(r["pue_target"]),
            note=r["note"],
            source=r["source"],
            name_zh=r.get("name_zh", ""),
        )
        for r in read_csv("sites.csv")
    )


@cache
def cities() -> tuple[City, ...]:
    """The built-in demand cities, in file order."""
    return tuple(
        City(
            id=r["id"],
            name=r["name"],
            lat=float(r["lat"]),
            lon=float(r["lon"]),
            population_m=float(r["population_m"]),
            source=r["source"],
            name_zh=r.get("name_zh", ""),
        )
        for r in read_csv("cities.csv")
    )


@cache
def _site_index() -> dict[str, Site]:
    return build_index((s, (s.id, s.name, s.cluster)) for s in sites())


@cache
def _city_index() -> dict[str, City]:
    return build_index((c, (c.id, c.name)) for c in cities())


def site(name: str) -> Site:
    """Look a site up by id or name (``zhongwei``, ``Gui'an``, ``guian``)."""
    return resolve("site", name, _site_index(), (s.id for s in sites()))


def city(name: str) -> City:
    """Look a city up by id or name (``shanghai``, ``Xi'an``)."""
    return resolve("city", name, _city_index(), (c.id for c in cities()))


def place(name: str, *, prefer: Literal["city", "site"] = "city") -> Site | City:
    """A city or a site by name; where both share a name (e.g. ``chongqing``) the city wins,
    or the site with ``prefer="site"`` (an offer's location is a site)."""
    from suanli.catalog._lookup import normalise

    key = normalise(name)
    indexes = (_city_index(), _site_index())
    for index in indexes if prefer == "city" else indexes[::-1]:
        if key in index:
            return index[key]
    combined: dict[str, Site | City] = {**_site_index(), **_city_index()}
    return resolve("place", name, combined, [c.id for c in cities()] + [s.id for s in sites()])
