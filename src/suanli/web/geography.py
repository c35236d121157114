"""Map data for the dashboard: sites with their capacity, demand cities, latency rings.

A latency ring is the set of points whose modelled round-trip time to the chosen city is a
given number of milliseconds. Under :class:`~suanli.geo.LatencyModel` the RTT grows
linearly with great-circle distance ``d``::

    rtt_ms = 2 * d_km * route_factor * fibre_us_per_km / 1000 + overhead_ms
    =>  d_km = (rtt_ms - overhead_ms) * 1000 / (2 * route_factor * fibre_us_per_km)

so each ring is a small circle of that radius on the sphere, sent to the browser as
longitude/latitude points and projected there with the rest of the map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from suanli.catalog import City, cities, city, sites
from suanli.geo import EARTH_RADIUS_KM, LatencyModel, rtt_matrix

RING_RTT_MS = (10, 20, 30, 40)
DEFAULT_CITY = "shanghai"


def ring_radius_km(rtt_ms: float, model: LatencyModel) -> float:
    """Great-circle distance at which the modelled RTT equals ``rtt_ms`` (0 if below overhead)."""
    one_way_ms = max(0.0, rtt_ms - model.overhead_ms) / 2.0
    return one_way_ms * 1000.0 / (model.route_factor * model.fibre_us_per_km)


def circle_points(lat: float, lon: float, radius_km: float, n: int = 72) -> list[list[float]]:
    """``n`` points (lon, lat in degrees) at ``radius_km`` around a centre, on the sphere."""
    bearing = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    delta = radius_km / EARTH_RADIUS_KM
    phi1, lam1 = np.radians(lat), np.radians(lon)
    phi2 = np.arcsin(np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(bearing))
    lam2 = lam1 + np.arctan2(
        np.sin(bearing) * np.sin(delta) * np.cos(phi1),
        np.cos(delta) - np.sin(phi1) * np.sin(phi2),
    )
    return [
        [round(float(x), 3), round(float(y), 3)]
        for x, y in zip(np.degrees(lam2), np.degrees(phi2), strict=True)
    ]


def map_document(
    capacity: Mapping[str, tuple[int, int]],
    city_name: str | None = None,
    *,
    model: LatencyModel | None = None,
    rings_ms: Sequence[float] = RING_RTT_MS,
) -> dict[str, Any]:
    """Everything the map draws: sites (GPUs listed/leased, utilization, RTT to the city),
    cities, and rings of equal RTT around the chosen city.

    ``capacity`` maps a site id to (GPUs listed, GPUs leased).
    """
    m = model or LatencyModel()
    chosen: City = city(city_name or DEFAULT_CITY)
    all_sites = sites()
    rtt = rtt_matrix([chosen], list(all_sites), m)[0]
    site_rows = []
    for s, r in zip(all_sites, rtt, strict=True):
        listed, leased = capacity.get(s.id, (0, 0))
        site_rows.append(
            {
                "id": s.id,
                "name": s.name,
                "hub": s.hub,
                "region": s.region,
                "role": s.role,
                "lat": s.lat,
                "lon": s.lon,
                "gpus_listed": listed,
                "gpus_leased": leased,
                "gpus_free": listed - leased,
                "utilization": leased / listed if listed else 0.0,
                "rtt_ms": round(float(r), 2),
            }
        )
    return {
        "city": {"id": chosen.id, "name": chosen.name, "lat": chosen.lat, "lon": chosen.lon},
        "cities": [{"id": c.id, "name": c.name, "lat": c.lat, "lon": c.lon} for c in cities()],
        "sites": site_rows,
        "rings": [
            {
                "rtt_ms": ms,
                "radius_km": round(ring_radius_km(ms, m), 1),
                "points": circle_points(chosen.lat, chosen.lon, ring_radius_km(ms, m)),
            }
            for ms in rings_ms
            if ring_radius_km(ms, m) > 0
        ],
        "latency_model": {
            "fibre_us_per_km": m.fibre_us_per_km,
            "route_factor": m.route_factor,
            "overhead_ms": m.overhead_ms,
        },
    }
