"""The look shared by the dashboard and the report: names, colour classes, projection."""

from __future__ import annotations

import pytest

from suanli.catalog import cities, sites
from suanli.catalog.cartography import (
    MAP_BOUNDS,
    UTIL_COLOURS,
    hub_label,
    hub_names,
    outline,
    project,
    site_label,
    util_class,
    util_colour,
    util_legend,
)


def test_every_site_city_and_hub_has_a_chinese_name_with_a_source() -> None:
    for s in sites():
        assert s.name_zh and not s.name_zh.isascii(), s.id
    for c in cities():
        assert c.name_zh and not c.name_zh.isascii(), c.id
    regions = {s.region for s in sites()}
    assert regions <= set(hub_names())
    assert all(h.source and h.name_zh for h in hub_names().values())
    assert site_label("zhongwei", "zh-CN") == "中卫"
    assert site_label("Zhongwei", "en") == "Zhongwei"
    assert hub_label("Guangdong-Hong Kong-Macao Greater Bay Area", "zh-CN") == "粤港澳"


@pytest.mark.parametrize(("a", "b"), [(0.01, 0.06), (0.06, 0.6), (0.01, 0.6), (0.0, 0.01)])
def test_real_load_levels_get_different_colours(a: float, b: float) -> None:
    assert util_colour(a) != util_colour(b)


def test_classes_cover_zero_to_one_in_order() -> None:
    seen = [util_class(u / 1000) for u in range(1001)]
    assert seen == sorted(seen)
    assert set(seen) == set(range(len(UTIL_COLOURS)))
    assert [c for _, c in util_legend()] == list(UTIL_COLOURS)
    assert util_class(float("nan")) == 0


def test_projection_keeps_every_site_inside_the_box_and_north_up() -> None:
    for s in sites():
        x, y = project(s.lon, s.lat, 760, 520)
        assert 0 <= x <= 760 and 0 <= y <= 520, s.id
    north = project(110, MAP_BOUNDS["lat_max"], 760, 520)
    south = project(110, MAP_BOUNDS["lat_min"], 760, 520)
    assert north[1] < south[1]


def test_outline_is_natural_earth_with_the_south_china_sea_islands() -> None:
    doc = outline()
    assert "Natural Earth" in doc["source"] and "public domain" in doc["source"]
    spratly = [r for r in doc["islands"] if all(5 < lat < 12 for _, lat in r)]
    assert spratly, "the Spratly Islands are in the data"
    taiwan = [r for r in doc["china"] if all(119.5 < lon < 122.5 for lon, _ in r)]
    assert taiwan, "Taiwan is drawn as part of the outline"
