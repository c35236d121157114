"""Placement-made bids clear through the same call auction as every other order."""

from __future__ import annotations

from suanli.market import Side, asks_from_offers, bids_from_placement, clear
from suanli.placement import GangDemand, Offer, place


def test_placement_bids_clear_against_offer_asks() -> None:
    offers = [
        Offer("o1", "zhongwei", "H100-SXM", 16, 8, 9.0, seller="ningxia-dc"),
        Offer("o2", "guian", "H100-SXM", 16, 8, 8.0, seller="guizhou-dc"),
        Offer("o3", "horinger", "H20", 32, 8, 4.0, interruptible=True, seller="nm-dc"),
    ]
    demands = [
        GangDemand("train", 16, ("H100-SXM",), max_price_cny_per_gpu_hour=10.0),
        GangDemand("small", 8, ("H100-SXM", "H20"), allow_interruptible=True),
    ]
    placement = place(demands, offers)
    bids = bids_from_placement(placement, offers, buyer="acme", start_h=0, end_h=24,
                               headroom_bps=500)  # fmt: skip
    asks = asks_from_offers(offers, start_h=0, end_h=24)
    assert bids and all(b.all_or_nothing and b.side is Side.BID for b in bids)
    assert {b.source for b in bids} == {f"placement:{d}" for d in placement.assignments}
    result = clear([*asks, *bids])
    by_id = {o.id: o for o in [*asks, *bids]}
    for b in bids:
        assert result.filled_gpus.get(b.id, 0) == b.quantity_gpus  # every gang clears whole
    for f in result.fills:
        assert by_id[f.ask_id].price_fen_per_gpu_hour <= f.price_fen_per_gpu_hour
        assert f.price_fen_per_gpu_hour <= by_id[f.bid_id].price_fen_per_gpu_hour
