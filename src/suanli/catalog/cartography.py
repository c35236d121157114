"""One look for every map and chart of the exchange: the projection, the utilization colour
scale, hub colours and the display names (English and Chinese) of sites, hubs and cities.

The dashboard reads :func:`style_document` (served as JSON) and the simulation report calls
the same functions, so a site is called the same and coloured the same in both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from suanli.catalog._data import data_text, read_csv
from suanli.catalog.geography import cities, sites

Lang = Literal["en", "zh-CN"]
LANGS: tuple[Lang, ...] = ("en", "zh-CN")

# Equirectangular with longitude scaled by cos(35°), fitted into a box: China's mainland,
# Hainan and Taiwan. The South China Sea is drawn as an inset (INSET_BOUNDS) in a corner.
MAP_BOUNDS = {"lon_min": 73.0, "lon_max": 135.5, "lat_min": 17.5, "lat_max": 54.0}
INSET_BOUNDS = {"lon_min": 106.5, "lon_max": 123.0, "lat_min": 3.0, "lat_max": 24.5}
COS_REF = math.cos(math.radians(35.0))

# Utilization classes: edges in [0, 1] and one colour per class. The edges are close
# together at the low end, where real load sits (1-6%), so 1%, 6% and 60% land in three
# visibly different classes.
UTIL_EDGES = (0.0, 0.005, 0.02, 0.05, 0.15, 0.35, 0.65, 1.0)
UTIL_COLOURS = ("#9aa5b1", "#c6dbef", "#6baed6", "#2163a8", "#fdae61", "#e8552f", "#a50026")

HUB_COLOURS = {
    "Beijing-Tianjin-Hebei": "#1f5fa8",
    "Yangtze River Delta": "#b4232a",
    "Guangdong-Hong Kong-Macao Greater Bay Area": "#1a7f37",
    "Chengdu-Chongqing": "#9a6700",
    "Guizhou": "#8250df",
    "Inner Mongolia": "#0a7e8c",
    "Gansu": "#d4591f",
    "Ningxia": "#57606a",
    "metro": "#bf3989",
    "central": "#4d7c0f",
}
EXTRA_COLOURS = ("#6e40c9", "#a0522d", "#2f4f4f", "#c71585")


def util_class(u: float) -> int:
    """The colour class of a utilization (0 for idle, len(UTIL_COLOURS)-1 for full)."""
    x = u if math.isfinite(u) else 0.0
    for i in range(1, len(UTIL_EDGES) - 1):
        if x < UTIL_EDGES[i]:
            return i - 1
    return len(UTIL_COLOURS) - 1


def util_colour(u: float) -> str:
    """The colour of a utilization in [0, 1]."""
    return UTIL_COLOURS[util_class(u)]


def util_legend() -> list[tuple[str, str]]:
    """(label, colour) per class, e.g. ("2-5%", "#6baed6")."""

    def pct(x: float) -> str:
        return f"{x * 100:g}%"

    out = []
    for i, colour in enumerate(UTIL_COLOURS):
        lo, hi = UTIL_EDGES[i], UTIL_EDGES[i + 1]
        out.append((f"{pct(lo)}–{pct(hi)}" if hi < 1 else f"≥{pct(lo)}", colour))
    return out


def hub_colour(hub: str, index: int = 0) -> str:
    """The colour of a hub (or region: ``metro``, ``central``) on every chart."""
    return HUB_COLOURS.get(hub, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


@dataclass(frozen=True, slots=True)
class HubName:
    id: str
    short: str
    name_zh: str
    short_zh: str
    source: str


@cache
def hub_names() -> dict[str, HubName]:
    """Hub (and region) id -> its short English name and Chinese names."""
    return {
        r["id"]: HubName(r["id"], r["short"], r["name_zh"], r["short_zh"], r["source"])
        for r in read_csv("hubs.csv")
    }


def hub_label(hub: str, lang: Lang = "en") -> str:
    """The short name of a hub or region on charts and tables."""
    h = hub_names().get(hub)
    if h is None:
        return hub
    return h.short_zh if lang == "zh-CN" else h.short


def site_label(site_id: str, lang: Lang = "en") -> str:
    """A site's display name (by id or English name) in ``lang``."""
    for s in sites():
        if site_id in (s.id, s.name):
            return (s.name_zh or s.name) if lang == "zh-CN" else s.name
    return site_id


def city_label(city_id: str, lang: Lang = "en") -> str:
    """A city's display name (by id or English name) in ``lang``."""
    for c in cities():
        if city_id in (c.id, c.name):
            return (c.name_zh or c.name) if lang == "zh-CN" else c.name
    return city_id


@cache
def outline() -> dict[str, Any]:
    """China's outline, South China Sea islands and neighbouring land (lon/lat rings) with
    their source (Natural Earth, public domain)."""
    doc: dict[str, Any] = json.loads(data_text("china_outline.json"))
    return doc


def fit(
    bounds: dict[str, float], width: float, height: float, margin: float = 10.0
) -> tuple[float, float, float]:
    """(scale, x offset, y offset) that fit ``bounds`` into a width x height box."""
    w = (bounds["lon_max"] - bounds["lon_min"]) * COS_REF
    h = bounds["lat_max"] - bounds["lat_min"]
    k = min((width - 2 * margin) / w, (height - 2 * margin) / h)
    return k, (width - w * k) / 2, (height - h * k) / 2


def project(
    lon: float, lat: float, width: float, height: float, bounds: dict[str, float] | None = None
) -> tuple[float, float]:
    """Screen x, y of a point in a width x height box (the same formula as the page's)."""
    b = bounds or MAP_BOUNDS
    k, ox, oy = fit(b, width, height)
    return ox + (lon - b["lon_min"]) * COS_REF * k, oy + (b["lat_max"] - lat) * k


def names_document() -> dict[str, dict[str, dict[str, str]]]:
    """Display names per language: sites, cities and hubs by id."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for lang in LANGS:
        out[lang] = {
            "sites": {s.id: site_label(s.id, lang) for s in sites()},
            "cities": {c.id: city_label(c.id, lang) for c in cities()},
            "hubs": {h: hub_label(h, lang) for h in hub_names()},
        }
    return out


def style_document() -> dict[str, Any]:
    """Everything the page needs to draw like the report: projection, colours, names, outline."""
    return {
        "projection": {
            "kind": "equirectangular",
            "cos_ref": COS_REF,
            "bounds": MAP_BOUNDS,
            "inset_bounds": INSET_BOUNDS,
        },
        "util_edges": list(UTIL_EDGES),
        "util_colours": list(UTIL_COLOURS),
        "hub_colours": dict(HUB_COLOURS),
        "extra_colours": list(EXTRA_COLOURS),
        "names": names_document(),
        "outline": outline(),
        "sources": {
            "outline": outline()["source"],
            "names_zh": sorted(_name_sources() | {h.source for h in hub_names().values()}),
        },
    }


def _name_sources() -> set[str]:
    rows = read_csv("sites.csv") + read_csv("cities.csv")
    return {r["name_zh_source"] for r in rows if r.get("name_zh_source")}
