"""The market as a state machine over an event log: every change is an event, and replaying
the log from an empty market rebuilds the same state (order book, fills, leases, ledger).

Events carry only their inputs; outcomes (fills, lease ids, postings) are recomputed on
replay by the same pure functions, so the log is small and the replay is a check that the
functions are deterministic. :func:`apply` is the one entry point; :func:`replay` folds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from suanli.errors import InvalidRequest
from suanli.market.clearing import ClearingResult, Fill, clear, residual
from suanli.market.leases import LeaseBook, activate, cancel, deposit, meter, open_leases
from suanli.market.ledger import Ledger
from suanli.market.orders import Order, OrderBook
from suanli.market.preemption import preempt, preempt_for_unfilled
from suanli.market.rules import MarketRules


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order: Order
    kind: str = "place_order"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str
    kind: str = "cancel_order"


@dataclass(frozen=True, slots=True)
class Clear:
    """Run the call auctions over the whole book; fills become pending leases."""

    at_h: float
    preempt: bool = True  # unfilled on-demand bids then preempt lower-priority spot leases
    kind: str = "clear"


@dataclass(frozen=True, slots=True)
class Activate:
    lease_id: str
    at_h: float
    kind: str = "activate"


@dataclass(frozen=True, slots=True)
class Meter:
    at_h: float
    kind: str = "meter"


@dataclass(frozen=True, slots=True)
class CancelLease:
    lease_id: str
    at_h: float
    kind: str = "cancel_lease"


@dataclass(frozen=True, slots=True)
class Preempt:
    """An on-demand bid displacing interruptible leases (it does not rest in the book)."""

    order: Order
    at_h: float
    kind: str = "preempt"


@dataclass(frozen=True, slots=True)
class Deposit:
    account: str
    amount_fen: int
    at_h: float
    kind: str = "deposit"


Event = PlaceOrder | CancelOrder | Clear | Activate | Meter | CancelLease | Preempt | Deposit


@dataclass(frozen=True, slots=True)
class MarketState:
    """Everything the market knows, and the log of events that produced it."""

    rules: MarketRules = field(default_factory=MarketRules)
    book: OrderBook = field(default_factory=OrderBook)
    fills: tuple[Fill, ...] = ()
    leases: LeaseBook = field(default_factory=LeaseBook)
    ledger: Ledger = field(default_factory=Ledger)
    rounds: int = 0
    log: tuple[Event, ...] = ()
    last_clearing: ClearingResult | None = None


def apply(state: MarketState, event: Event) -> MarketState:
    """The state after ``event``; on error the state is unchanged (it is a value)."""
    rules = state.rules
    logged = (*state.log, event)
    if isinstance(event, PlaceOrder):
        return replace(state, book=state.book.add(event.order), log=logged)
    if isinstance(event, CancelOrder):
        return replace(state, book=state.book.cancel(event.order_id), log=logged)
    if isinstance(event, Clear):
        result = clear(state.book, at_h=event.at_h, fill_prefix=f"F{state.rounds}-")
        leases, _ = open_leases(state.leases, result.fills)
        book, ledger = residual(state.book, result), state.ledger
        if event.preempt:
            book, leases, ledger, _ = preempt_for_unfilled(
                book, leases, ledger, now_h=event.at_h, rules=rules
            )
        return replace(
            state,
            book=book,
            ledger=ledger,
            fills=(*state.fills, *result.fills),
            leases=leases,
            rounds=state.rounds + 1,
            log=logged,
            last_clearing=result,
        )
    if isinstance(event, Activate):
        held, ledger = activate(state.leases, state.ledger, event.lease_id, now_h=event.at_h)
        return replace(state, leases=held, ledger=ledger, log=logged)
    if isinstance(event, Meter):
        held, ledger = meter(state.leases, state.ledger, now_h=event.at_h, fee_bps=rules.fee_bps)
        return replace(state, leases=held, ledger=ledger, log=logged)
    if isinstance(event, CancelLease):
        held, ledger = cancel(
            state.leases, state.ledger, event.lease_id, now_h=event.at_h, fee_bps=rules.fee_bps
        )
        return replace(state, leases=held, ledger=ledger, log=logged)
    if isinstance(event, Preempt):
        out = preempt(state.leases, state.ledger, event.order, now_h=event.at_h, rules=rules)
        return replace(state, leases=out.book, ledger=out.ledger, log=logged)
    if isinstance(event, Deposit):
        ledger = deposit(
            state.ledger,
            event.account,
            event.amount_fen,
            at_h=event.at_h,
            id=f"deposit:{len(state.log)}",
        )
        return replace(state, ledger=ledger, log=logged)
    raise InvalidRequest(f"unknown event {event!r}", field="event")


def replay(events: Iterable[Event], rules: MarketRules = MarketRules()) -> MarketState:
    """Rebuild the market from its log."""
    state = MarketState(rules=rules)
    for event in events:
        state = apply(state, event)
    return state
