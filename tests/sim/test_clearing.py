"""Period prices: posted asks for the baselines, a uniform auction price for Suanli."""

from __future__ import annotations

import numpy as np

from suanli.sim.clearing import period_prices


def test_baselines_pay_posted_asks_where_they_lease() -> None:
    ask = np.array([[10.0, 5.0], [12.0, 6.0]])
    fills = np.array([[3, 0], [0, 2]])
    price = period_prices("posted", fills, ask, np.array([0, 0]))
    assert price.tolist() == [[10.0, 0.0], [0.0, 6.0]]


def test_auction_price_is_uniform_in_an_instrument_and_never_below_an_ask() -> None:
    # Two sites in one region, one in another; one GPU type.
    ask = np.array([[10.0], [11.0], [9.0]])
    regions = np.array([0, 0, 1])
    supply = np.array([[5], [5], [5]])
    fills = np.array([[5], [2], [1]])  # region 0 needs the dearer site too
    price = period_prices("auction", fills, ask, regions, supply=supply, bids=[(fills, 30.0)])
    assert price[0, 0] == price[1, 0] == 11.0  # the marginal seller's ask, paid to both
    assert price[2, 0] == 9.0
    assert (price[fills > 0] >= ask[fills > 0]).all()
    nothing = period_prices(
        "auction", np.zeros((3, 1), dtype=np.int64), ask, regions, supply=supply, bids=[]
    )
    assert (nothing == 0).all()
