"""Network latency between demand cities and sites.

RTT = 2 x great-circle distance x route factor x fibre delay per km + fixed overhead.
Fibre carries light at about 5 microseconds per km one way; real routes run 1.2-1.5x the
great-circle distance; the fixed overhead covers last-mile, switching and the server's
network stack. A measured matrix overrides the pairs it covers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from suanli.catalog import place
from suanli.errors import DataFileError, InvalidRequest

EARTH_RADIUS_KM = 6371.0088


class Located(Protocol):
    """Anything with an id and coordinates in degrees (cities and sites)."""

    @property
    def id(self) -> str: ...

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Parameters of the geographic RTT model and measured overrides.

    ``measured_ms`` maps an unordered pair of ids (``frozenset({a, b})``) to a measured RTT.
    """

    fibre_us_per_km: float = 5.0
    route_factor: float = 1.5
    overhead_ms: float = 2.0
    measured_ms: Mapping[frozenset[str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fibre_us_per_km <= 0:
            raise InvalidRequest(
                "fibre delay must be positive", field="fibre_us_per_km", hint="About 5.0."
            )
        if self.route_factor < 1:
            raise InvalidRequest(
                "route factor must be at least 1", field="route_factor", hint="Use 1.2-1.5."
            )
        if self.overhead_ms < 0:
            raise InvalidRequest("overhead must be >= 0 ms", field="overhead_ms")


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    return float(_haversine_km(np.array(lat1), np.array(lon1), np.array(lat2), np.array(lon2)))


def _haversine_km(
    lat1: npt.NDArray[np.float64],
    lon1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    return result


def _resolve(x: Located | str, prefer: Literal["city", "site"] = "city") -> Located:
    return place(x, prefer=prefer) if isinstance(x, str) else x


def rtt_ms(a: Located | str, b: Located | str, model: LatencyModel | None = None) -> float:
    """Round-trip time in ms between two places (cities, sites, or their names)."""
    m = model or LatencyModel()
    pa, pb = _resolve(a), _resolve(b)
    measured = m.measured_ms.get(frozenset((pa.id, pb.id)))
    if measured is not None:
        return float(measured)
    km = great_circle_km(pa.lat, pa.lon, pb.lat, pb.lon)
    return 2.0 * km * m.route_factor * m.fibre_us_per_km / 1000.0 + m.overhead_ms


def rtt_matrix(
    origins: Sequence[Located | str],
    destinations: Sequence[Located | str],
    model: LatencyModel | None = None,
) -> npt.NDArray[np.float64]:
    """RTT in ms for every (origin, destination) pair: shape (origins, destinations).
    Origins are demand cities and destinations sites: a name both share (``chongqing``)
    is the city as an origin and the site as a destination."""
    m = model or LatencyModel()
    a = [_resolve(x) for x in origins]
    b = [_resolve(x, prefer="site") for x in destinations]
    lat1 = np.array([p.lat for p in a], dtype=np.float64)[:, None]
    lon1 = np.array([p.lon for p in a], dtype=np.float64)[:, None]
    lat2 = np.array([p.lat for p in b], dtype=np.float64)[None, :]
    lon2 = np.array([p.lon for p in b], dtype=np.float64)[None, :]
    km = _haversine_km(lat1, lon1, lat2, lon2)
    rtt: npt.NDArray[np.float64] = (
        2.0 * km * m.route_factor * m.fibre_us_per_km / 1000.0 + m.overhead_ms
    )
    if m.measured_ms:
        for i, pa in enumerate(a):
            for j, pb in enumerate(b):
                measured = m.measured_ms.get(frozenset((pa.id, pb.id)))
                if measured is not None:
                    rtt[i, j] = measured
    return rtt


def parse_measured_csv(
    text: str, *, path: str = "<measured matrix>"
) -> dict[frozenset[str], float]:
    """Parse a measured RTT CSV with columns ``from,to,rtt_ms`` (ids or names of places).

    Names are resolved against the catalogs, so ``Shanghai,zhongwei,31.5`` works.
    """
    reader = csv.DictReader(io.StringIO(text))
    needed = {"from", "to", "rtt_ms"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise DataFileError(
            "needs the columns from,to,rtt_ms",
            path=path,
            hint="First line must be: from,to,rtt_ms",
        )
    out: dict[frozenset[str], float] = {}
    for line_no, row in enumerate(reader, start=2):
        item = f"line {line_no}"
        try:
            value = float(row["rtt_ms"])
        except (TypeError, ValueError):
            raise DataFileError(
                f"rtt_ms {row['rtt_ms']!r} is not a number", path=path, item=item, field="rtt_ms"
            ) from None
        if not value >= 0:
            raise DataFileError("rtt_ms must be >= 0", path=path, item=item, field="rtt_ms")
        a, b = place(row["from"]), place(row["to"])
        out[frozenset((a.id, b.id))] = value
    return out
