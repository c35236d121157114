"""Latency model: symmetric, overhead at zero distance, plausible real routes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli import catalog, geo
from suanli.errors import DataFileError, InvalidRequest

PLACES = [c.id for c in catalog.cities()] + [s.id for s in catalog.sites()]


@given(st.sampled_from(PLACES), st.sampled_from(PLACES))
def test_rtt_is_symmetric(a: str, b: str) -> None:
    assert geo.rtt_ms(a, b) == pytest.approx(geo.rtt_ms(b, a))


def test_zero_distance_is_the_fixed_overhead() -> None:
    model = geo.LatencyModel(overhead_ms=3.5)
    assert geo.rtt_ms("shanghai", "shanghai", model) == pytest.approx(3.5)
    assert geo.rtt_ms("shanghai", "shanghai-metro", model) == pytest.approx(3.5)


def test_beijing_shanghai_is_plausible() -> None:
    # Published Beijing-Shanghai RTTs run about 15-35 ms (about 1,070 km great-circle).
    rtt = geo.rtt_ms("beijing", "shanghai")
    assert 15.0 <= rtt <= 35.0
    km = geo.great_circle_km(39.90, 116.40, 31.23, 121.47)
    assert km == pytest.approx(1067, abs=10)


def test_parameters_scale_the_propagation_part() -> None:
    base = geo.LatencyModel(route_factor=1.0, overhead_ms=0.0)
    doubled = geo.LatencyModel(route_factor=2.0, overhead_ms=0.0)
    assert geo.rtt_ms("beijing", "zhongwei", doubled) == pytest.approx(
        2 * geo.rtt_ms("beijing", "zhongwei", base)
    )


def test_matrix_matches_pairwise_and_measured_overrides() -> None:
    cities, sites = catalog.cities(), catalog.sites()
    measured = geo.parse_measured_csv("from,to,rtt_ms\nShanghai,zhongwei,31.5\n")
    model = geo.LatencyModel(measured_ms=measured)
    m = geo.rtt_matrix(cities, sites, model)
    assert m.shape == (len(cities), len(sites))
    i = [c.id for c in cities].index("shanghai")
    j = [s.id for s in sites].index("zhongwei")
    assert m[i, j] == 31.5
    assert geo.rtt_ms("zhongwei", "shanghai", model) == 31.5
    plain = geo.rtt_matrix(cities, sites)
    expected = np.array([[geo.rtt_ms(c, s) for s in sites] for c in cities])
    np.testing.assert_allclose(plain, expected)


def test_bad_parameters_and_files() -> None:
    with pytest.raises(InvalidRequest, match="route factor"):
        geo.LatencyModel(route_factor=0.5)
    with pytest.raises(DataFileError, match="rtt_ms"):
        geo.parse_measured_csv("from,to,rtt_ms\nbeijing,zhongwei,fast\n")
    with pytest.raises(DataFileError, match="columns"):
        geo.parse_measured_csv("a,b\n")
