"""Prices of one period's leases.

The baselines trade bilaterally at the sellers' posted asks. Suanli runs a uniform-price
call auction per instrument (GPU type, region): buyers' bids (limit prices at or above the
asks they were placed on) meet the sellers' asks, and every fill in the instrument pays the
marginal accepted ask, the lowest price at which supply covers the filled quantity.
"""

from __future__ import annotations

import numpy as np

from suanli.sim.world import FloatArray, IntArray


def period_prices(
    policy: str, fills: IntArray, ask: FloatArray, region_of_site: IntArray
) -> FloatArray:
    """CNY per GPU-hour paid at each (site, GPU type) this period (0 where nothing filled)."""
    if policy != "suanli":
        return np.where(fills > 0, ask, 0.0)
    filled = fills > 0
    price = np.zeros_like(ask)
    for r in np.unique(region_of_site):
        in_region = region_of_site == r
        mask = filled & in_region[:, None]
        # Marginal accepted ask per GPU type in this region.
        marginal = np.where(mask, ask, -np.inf).max(axis=0)
        price[in_region] = np.where(mask[in_region], marginal[None, :], 0.0)
    return price
