"""Placement: many demands onto shared GPU offers at least cost, within latency, capacity,
fabric and price limits, with every decision explained.

* :func:`place` — exact MILP (HiGHS) on small instances, a fast class-aggregated
  min-cost-flow method at national scale; :func:`place_nearest` and
  :func:`place_cheapest_type` are the baselines.
* Inputs: :class:`Offer`, :class:`ServeDemand` (:class:`ServeOption` per GPU type),
  :class:`GangDemand`, :class:`BatchDemand`; latency as a :class:`~suanli.geo.LatencyModel`
  or an :class:`RttTable`.
* Output: :class:`Placement` (assignments, unplaced reasons, explanations, cost, bound).
"""

from suanli.placement.model import (
    BatchDemand,
    Demand,
    GangDemand,
    Offer,
    RttTable,
    ServeDemand,
    ServeOption,
)
from suanli.placement.result import Assignment, Explanation, OfferRejection, Placement
from suanli.placement.sizing import demands_from_sizing
from suanli.placement.solve import place, place_cheapest_type, place_nearest, solve

__all__ = [
    "Assignment",
    "BatchDemand",
    "Demand",
    "Explanation",
    "GangDemand",
    "Offer",
    "OfferRejection",
    "Placement",
    "RttTable",
    "ServeDemand",
    "ServeOption",
    "demands_from_sizing",
    "place",
    "place_cheapest_type",
    "place_nearest",
    "solve",
]
