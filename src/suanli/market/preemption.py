"""Preemption: higher-priority on-demand demand displaces interruptible leases, with notice.

Given an on-demand bid :math:`d` (priority :math:`\\pi_d`, :math:`q_d` GPUs) the candidates
are the pending or active leases on *interruptible* instruments of the same GPU model and
hub whose window overlaps :math:`d`'s and whose priority is strictly lower than
:math:`\\pi_d`. They are taken lowest priority first (then the latest-starting, then by id)
until they free :math:`q_d` GPUs; whole leases are preempted, never parts. An active victim
keeps its GPUs for ``notice_h`` more hours, pays for the time it used (notice included) and
is refunded the rest of its prepaid window. The demand gets pending leases (one per seller) on
the freed GPUs, starting when the notice runs out. If the candidates cannot free enough GPUs, an
all-or-nothing demand preempts nobody; a divisible one takes what there is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from suanli.errors import Infeasible, InvalidRequest
from suanli.market.leases import Lease, LeaseBook, LeaseState, stop_for_preemption
from suanli.market.ledger import Ledger, Transaction
from suanli.market.orders import Order, OrderBook, Pricing, Side
from suanli.market.rules import MarketRules


@dataclass(frozen=True, slots=True)
class Preemption:
    book: LeaseBook
    ledger: Ledger
    victims: tuple[Lease, ...]  # as they are after preemption
    leases: tuple[Lease, ...]  # the demand's new pending leases, one per seller
    available_at_h: float


def candidates(book: LeaseBook, demand: Order) -> list[Lease]:
    """Leases ``demand`` may displace, in the order they would be displaced."""
    inst = demand.instrument
    found = [
        x
        for x in book.leases.values()
        if x.state in (LeaseState.PENDING, LeaseState.ACTIVE)
        and x.instrument.pricing is Pricing.INTERRUPTIBLE
        and x.instrument.gpu == inst.gpu
        and x.instrument.hub == inst.hub
        and x.priority < demand.priority
        and x.start_h < inst.end_h
        and inst.start_h < x.end_h
    ]
    found.sort(key=lambda x: (x.priority, -x.start_h, x.id))
    return found


def preempt(
    book: LeaseBook,
    ledger: Ledger,
    demand: Order,
    *,
    now_h: float,
    rules: MarketRules = MarketRules(),
    price_fen_per_gpu_hour: int | None = None,
) -> Preemption:
    """Displace lower-priority interruptible leases for ``demand`` (see module docstring).

    The new lease is priced at ``price_fen_per_gpu_hour`` (default: the demand's limit).
    """
    if demand.side is not Side.BID:
        raise InvalidRequest("only a bid can preempt", field="side")
    if demand.instrument.pricing is not Pricing.ON_DEMAND:
        raise InvalidRequest(
            "only on-demand demand preempts interruptible capacity", field="pricing"
        )
    chosen: list[Lease] = []
    freed = 0
    for lease in candidates(book, demand):
        if freed >= demand.quantity_gpus:
            break
        chosen.append(lease)
        freed += lease.gpus
    if freed < demand.quantity_gpus and demand.all_or_nothing:
        raise Infeasible(
            f"preempting every lower-priority interruptible lease frees {freed} GPUs; "
            f"{demand.id} needs {demand.quantity_gpus} all or nothing",
            hint="Raise the bid's priority or wait for on-demand capacity.",
        )
    if not chosen:
        return Preemption(book, ledger, (), (), now_h)
    victims: list[Lease] = []
    txs: list[Transaction] = []
    release: list[tuple[str, float]] = []
    gpu_ids: list[str] = []
    available = now_h
    for lease in chosen:
        done, t, free_at = stop_for_preemption(
            lease, now_h=now_h, notice_h=rules.notice_h, by=demand.id, fee_bps=rules.fee_bps
        )
        victims.append(done)
        txs.extend(t)
        release.extend((g, free_at) for g in lease.gpu_ids)
        gpu_ids.extend(lease.gpu_ids)
        available = max(available, free_at)
    start = max(available, demand.instrument.start_h)
    if demand.instrument.end_h <= start:
        raise Infeasible(f"{demand.id}'s window closes before the notice runs out")
    price = (
        demand.price_fen_per_gpu_hour
        if price_fen_per_gpu_hour is None
        else (price_fen_per_gpu_hour)
    )
    by_seller: dict[str, list[str]] = {}
    for lease in chosen:
        by_seller.setdefault(lease.seller, []).extend(lease.gpu_ids)
    new: list[Lease] = []
    left = demand.quantity_gpus
    serial = 0
    for seller, ids in by_seller.items():
        if left <= 0:
            break
        while f"L-pre-{demand.id}-{serial}" in book.leases:
            serial += 1
        new.append(
            Lease(
                id=f"L-pre-{demand.id}-{serial}", fill_id=f"preempt:{demand.id}",
                instrument=demand.instrument, buyer=demand.account, seller=seller,
                gpu_ids=tuple(ids[:left]), price_fen_per_gpu_hour=price, start_h=start,
                end_h=demand.instrument.end_h, priority=demand.priority,
            )
        )  # fmt: skip
        left -= len(ids[:left])
        serial += 1
    out = book._with([*victims, *new], release=release)
    return Preemption(out, ledger.post(*txs), tuple(victims), tuple(new), available)


def preempt_for_unfilled(
    book: OrderBook,
    leases: LeaseBook,
    ledger: Ledger,
    *,
    now_h: float,
    rules: MarketRules = MarketRules(),
) -> tuple[OrderBook, LeaseBook, Ledger, tuple[Lease, ...]]:
    """After a clearing: every on-demand bid still (partly) unfilled preempts what it may.

    Bids go in priority order (highest first, then arrival). A bid that displaces leases gets
    pending leases priced at its limit and leaves the book (or keeps its unmet rest, when
    divisible); an all-or-nothing bid that cannot be met in full preempts nobody and rests.
    Returns the new book, leases, ledger and the new leases.
    """
    waiting = sorted(
        (o for o in book.orders
         if o.side is Side.BID and o.instrument.pricing is Pricing.ON_DEMAND and o.priority > 0),
        key=lambda o: (-o.priority, o.seq, o.id),
    )  # fmt: skip
    made: list[Lease] = []
    for order in waiting:
        if not candidates(leases, order):
            continue
        try:
            out = preempt(leases, ledger, order, now_h=now_h, rules=rules)
        except Infeasible:
            continue
        got = sum(x.gpus for x in out.leases)
        if got == 0:
            continue
        leases, ledger = out.book, out.ledger
        made.extend(out.leases)
        book = book.cancel(order.id)
        if got < order.quantity_gpus:
            book = book.add(
                replace(order, id=f"{order.id}~", quantity_gpus=order.quantity_gpus - got)
            )
    return book, leases, ledger, tuple(made)
