"""Market rules: platform fee, preemption notice, and discounts for reserved windows by length.

Reserved capacity is sold for a fixed window; longer windows earn a larger discount on the
seller's on-demand price (a term discount, as cloud reservations do). The discount is applied
when a seller's on-demand price is turned into a reserve for a reserved window
(:func:`reserved_reserve_fen`), so the auction itself still compares plain prices per
GPU-hour and never trades below a reserve.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.errors import InvalidRequest
from suanli.market.orders import Instrument, Order, Pricing, Side, fen

# (minimum window in hours, discount in basis points), longest first.
DEFAULT_RESERVED_DISCOUNTS_BPS: tuple[tuple[float, int], ...] = (
    (24 * 365, 4000),
    (24 * 90, 3000),
    (24 * 30, 2000),
    (24 * 7, 1000),
    (24, 500),
)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Parameters of the exchange; the defaults are the exchange's published rules."""

    fee_bps: int = 500  # platform fee on every metered amount, taken from the seller's side
    notice_h: float = 0.25  # interruptible leases get 15 minutes' notice before preemption
    reserved_discounts_bps: tuple[tuple[float, int], ...] = DEFAULT_RESERVED_DISCOUNTS_BPS

    def __post_init__(self) -> None:
        if not 0 <= self.fee_bps <= 10_000:
            raise InvalidRequest(f"fee {self.fee_bps} bps outside 0..10000", field="fee_bps")
        if self.notice_h < 0:
            raise InvalidRequest("notice must not be negative", field="notice_h")
        for hours, bps in self.reserved_discounts_bps:
            if hours <= 0 or not 0 <= bps < 10_000:
                raise InvalidRequest(
                    f"bad reserved discount step ({hours}, {bps})", field="reserved_discounts_bps"
                )


def reserved_discount_bps(window_h: float, rules: MarketRules = MarketRules()) -> int:
    """The discount (basis points) a reserved window of ``window_h`` hours earns."""
    best = 0
    for min_h, bps in rules.reserved_discounts_bps:
        if window_h >= min_h:
            best = max(best, bps)
    return best


def reserved_reserve_fen(
    on_demand_fen_per_gpu_hour: int, window_h: float, rules: MarketRules = MarketRules()
) -> int:
    """A seller's reserve for a reserved window: the on-demand price less the term discount."""
    discount = reserved_discount_bps(window_h, rules)
    return on_demand_fen_per_gpu_hour * (10_000 - discount) // 10_000


def reserved_ask(
    id: str,
    inst: Instrument,
    seller: str,
    on_demand_cny_per_gpu_hour: float,
    quantity_gpus: int,
    rules: MarketRules = MarketRules(),
) -> Order:
    """An ask on a reserved instrument priced from the seller's on-demand price."""
    if inst.pricing is not Pricing.RESERVED:
        raise InvalidRequest(f"instrument {inst.key} is not a reserved window", field="pricing")
    reserve = reserved_reserve_fen(fen(on_demand_cny_per_gpu_hour), inst.hours, rules)
    return Order(id, Side.ASK, inst, seller, reserve, quantity_gpus)
