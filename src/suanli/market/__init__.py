"""The market: instruments and orders, periodic uniform-price clearing, leases, a
double-entry ledger, an event log that replays, and the GPU rental price index.

Pure core: functions take values and return new values; nothing here does I/O.
"""

from suanli.market.clearing import ClearingResult, Fill, InstrumentClearing, clear, residual
from suanli.market.events import MarketState, apply, replay
from suanli.market.from_placement import asks_from_offers, bids_from_placement
from suanli.market.index import IndexPoint, price_index, trimmed_mean
from suanli.market.leases import (
    Lease,
    LeaseBook,
    LeaseState,
    activate,
    cancel,
    deposit,
    meter,
    open_leases,
)
from suanli.market.ledger import Entry, Ledger, Transaction, transfer
from suanli.market.orders import (
    Instrument,
    Order,
    OrderBook,
    Pricing,
    Side,
    ask,
    bid,
    cny,
    fen,
    instrument,
    parse_instrument,
)
from suanli.market.preemption import Preemption, preempt
from suanli.market.rules import MarketRules, reserved_ask, reserved_discount_bps

__all__ = [
    "ClearingResult",
    "Entry",
    "Fill",
    "IndexPoint",
    "Instrument",
    "InstrumentClearing",
    "Lease",
    "LeaseBook",
    "LeaseState",
    "Ledger",
    "MarketRules",
    "MarketState",
    "Order",
    "OrderBook",
    "Preemption",
    "Pricing",
    "Side",
    "Transaction",
    "activate",
    "apply",
    "ask",
    "asks_from_offers",
    "bid",
    "bids_from_placement",
    "cancel",
    "clear",
    "cny",
    "deposit",
    "fen",
    "instrument",
    "meter",
    "open_leases",
    "parse_instrument",
    "preempt",
    "price_index",
    "replay",
    "reserved_ask",
    "reserved_discount_bps",
    "residual",
    "transfer",
    "trimmed_mean",
]
