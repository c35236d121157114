"""Orders made from the rest of the exchange: asks from sellers' offers, bids from placements.

A placement (``suanli.placement``) decides which offers a serving request or a job should use;
it does not trade. To trade, each of its assignments becomes an all-or-nothing bid (a
replica set is useless in part) on the instrument of the offer it was placed on: the
offer's GPU at the offer's site, on-demand or interruptible as the offer is, over the
demand's window. The offer itself becomes the matching ask, so placement-made bids clear
through the same call auction as every other order, at a uniform price no higher than the
limit the placement planned with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from suanli.errors import InvalidRequest
from suanli.market.orders import Order, Pricing, Side, fen, instrument


class OfferLike(Protocol):
    """What the market reads from ``suanli.placement.Offer``."""

    @property
    def id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def gpu(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def price_cny_per_gpu_hour(self) -> float: ...
    @property
    def interruptible(self) -> bool: ...
    @property
    def seller(self) -> str: ...


class AssignmentLike(Protocol):
    """What the market reads from ``suanli.placement.Assignment``."""

    @property
    def offer_id(self) -> str: ...
    @property
    def gpu(self) -> str: ...
    @property
    def gpus(self) -> int: ...
    @property
    def price_cny_per_gpu_hour(self) -> float: ...


def asks_from_offers(
    offers: Iterable[OfferLike], *, start_h: float, end_h: float
) -> tuple[Order, ...]:
    """One ask per offer: its GPUs at its site for the window, reserve = listed price."""
    out = []
    for o in offers:
        pricing = Pricing.INTERRUPTIBLE if o.interruptible else Pricing.ON_DEMAND
        inst = instrument(o.gpu, o.site, pricing, start_h, end_h)
        seller = o.seller or f"site:{o.site}"
        out.append(Order(f"ask:{o.id}", Side.ASK, inst, seller, fen(o.price_cny_per_gpu_hour),
                         o.count))  # fmt: skip
    return tuple(out)


def bids_from_placement(
    placement: Any,
    offers: Sequence[OfferLike],
    *,
    buyer: str | Mapping[str, str],
    start_h: float,
    end_h: float,
    headroom_bps: int = 0,
    priority: int = 0,
) -> tuple[Order, ...]:
    """All-or-nothing bids for every assignment of ``placement`` (``placement.assignments``:
    demand id -> assignments). The limit is the price the placement planned with, raised by
    ``headroom_bps`` basis points; ``buyer`` is one account or a map demand id -> account."""
    by_id = {o.id: o for o in offers}
    assignments: Mapping[str, Sequence[AssignmentLike]] = placement.assignments
    out: list[Order] = []
    for demand_id in sorted(assignments):
        account = buyer if isinstance(buyer, str) else buyer.get(demand_id, "")
        if not account:
            raise InvalidRequest(f"no buyer account for demand {demand_id}", field="buyer")
        for a in assignments[demand_id]:
            offer = by_id.get(a.offer_id)
            if offer is None:
                raise InvalidRequest(
                    f"assignment of {demand_id} names unknown offer {a.offer_id}", field="offer"
                )
            pricing = Pricing.INTERRUPTIBLE if offer.interruptible else Pricing.ON_DEMAND
            inst = instrument(a.gpu, offer.site, pricing, start_h, end_h)
            limit = math.ceil(fen(a.price_cny_per_gpu_hour) * (10_000 + headroom_bps) / 10_000)
            out.append(
                Order(
                    id=f"bid:{demand_id}@{a.offer_id}", side=Side.BID, instrument=inst,
                    account=account, price_fen_per_gpu_hour=limit, quantity_gpus=int(a.gpus),
                    all_or_nothing=True, priority=priority, source=f"placement:{demand_id}",
                )
            )  # fmt: skip
    return tuple(out)
