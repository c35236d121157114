"""Prices of one period's leases.

The baselines trade bilaterally at the sellers' posted asks. Under Suanli the exchange runs
a uniform-price call auction per instrument (GPU type, region) with
:func:`suanli.market.clearing.clear_arrays`: every site lists its market capacity at its
ask, buyers bid for the GPUs the placement gave them at their limit prices, and the
instrument's fills pay the low end of the auction's marginal price interval, the marginal
seller's ask. (The auction's own midpoint would hand sold-out instruments half of the gap up
to the buyers' limit, a limit set for admission, not a valuation.) Prices then move with
supply and demand through the sellers' asks, which follow their utilization day by day. A
site placed on for latency whose ask is above its instrument's price is paid its ask: no
seller is paid below its reserve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli.sim.world import FloatArray, IntArray

FEN_PER_CNY = 100


def period_prices(
    market: str,
    fills: IntArray,
    ask: FloatArray,
    region_of_site: IntArray,
    *,
    supply: IntArray | None = None,
    bids: Sequence[tuple[IntArray, float]] = (),
) -> FloatArray:
    """CNY per GPU-hour paid at each (site, GPU type) this period (0 where nothing filled).

    ``supply`` is each cell's market capacity; ``bids`` pairs the GPUs each kind of buyer
    was placed on with its limit price (used by the ``auction`` market; ``posted`` pays
    the asks).
    """
    if market != "auction":
        return np.where(fills > 0, ask, 0.0)
    return auction_prices(fills, ask, region_of_site, supply if supply is not None else fills, bids)


def auction_prices(
    fills: IntArray,
    ask: FloatArray,
    region_of_site: IntArray,
    supply: IntArray,
    bids: Sequence[tuple[IntArray, float]],
) -> FloatArray:
    """Uniform clearing price per instrument (GPU type, region), at least each seller's ask."""
    from suanli.market.clearing import clear_arrays

    n_g = ask.shape[1]
    n_r = int(region_of_site.max()) + 1
    cell_group = np.arange(n_g)[None, :] * n_r + region_of_site[:, None]
    ask_fen = np.floor(ask * FEN_PER_CNY + 0.5).astype(np.int64)
    selling = supply > 0
    groups = [cell_group[selling]]
    prices = [ask_fen[selling]]
    qty = [supply[selling]]
    is_bid = [np.zeros(int(selling.sum()), dtype=bool)]
    for placed, limit_cny in bids:
        buying = placed > 0
        groups.append(cell_group[buying])
        prices.append(np.full(int(buying.sum()), round(limit_cny * FEN_PER_CNY), dtype=np.int64))
        qty.append(placed[buying])
        is_bid.append(np.ones(int(buying.sum()), dtype=bool))
    group = np.concatenate(groups).astype(np.int64)
    if group.size == 0:
        return np.zeros_like(ask)
    result = clear_arrays(
        group,
        np.concatenate(is_bid),
        np.concatenate(prices),
        np.concatenate(qty).astype(np.int64),
        np.zeros(group.size, dtype=bool),
        np.arange(group.size, dtype=np.int64),
        n_g * n_r,
    )
    traded = result.volume[cell_group] > 0
    cleared = result.price_lo[cell_group].astype(np.float64) / FEN_PER_CNY
    price = np.where(traded, np.maximum(cleared, ask), ask)
    out: FloatArray = np.where(fills > 0, price, 0.0)
    return out
