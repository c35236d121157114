"""Leases: what a fill becomes, with a lifecycle, hourly metering and settlement.

::

    pending ──activate──> active ──(window over)──> ended
       │                    ├──preempt──> preempted   (interruptible only, with notice)
       └──cancel──┐         └──cancel───> cancelled
                  v
              cancelled

Money (see :mod:`suanli.market.ledger`): on activation the buyer prepays the whole window
into the lease's escrow; each metering moves the hours used from escrow to the seller, less
the platform fee; when a lease is preempted or cancelled the unused escrow is refunded to the
buyer. Amounts are cumulative and rounded once (``due(h) = round(price * gpus * h)``), so
metering in many small steps bills exactly what one step would.

A :class:`LeaseBook` is an immutable value. It gives every leased GPU an id
(``<ask id>/<k>``) and records which lease holds it and until when, so activation refuses a
GPU that another lease still occupies: no GPU is ever in two active leases at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from suanli.errors import Conflict, InvalidRequest
from suanli.market.clearing import Fill
from suanli.market.ledger import PLATFORM_FEES, Entry, Ledger, Transaction, fee_fen, transfer
from suanli.market.orders import Instrument

TERMINAL = frozenset({"ended", "preempted", "cancelled"})


class LeaseState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ENDED = "ended"
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Lease:
    """``gpu_ids`` of ``instrument`` rented by ``buyer`` from ``seller`` over [start_h, end_h)."""

    id: str
    fill_id: str
    instrument: Instrument
    buyer: str
    seller: str
    gpu_ids: tuple[str, ...]
    price_fen_per_gpu_hour: int
    start_h: float
    end_h: float
    priority: int = 0
    state: LeaseState = LeaseState.PENDING
    activated_at_h: float | None = None
    ended_at_h: float | None = None  # when it stopped (preempted: after the notice)
    metered_h: float = 0.0  # hours billed so far
    preempted_by: str | None = None

    @property
    def gpus(self) -> int:
        return len(self.gpu_ids)

    @property
    def hours(self) -> float:
        return self.end_h - self.start_h

    @property
    def escrow_account(self) -> str:
        return f"escrow:{self.id}"

    def due_fen(self, hours: float) -> int:
        """What ``hours`` of this lease cost the buyer, cumulative from the start."""
        return round(self.price_fen_per_gpu_hour * self.gpus * hours)

    @property
    def prepaid_fen(self) -> int:
        return self.due_fen(self.hours)


def buyer_account(who: str) -> str:
    return f"buyer:{who}"


def seller_account(who: str) -> str:
    return f"seller:{who}"


def deposit(ledger: Ledger, who: str, amount_fen: int, *, at_h: float, id: str) -> Ledger:
    """Money from outside the exchange into ``who``'s buyer balance."""
    if amount_fen <= 0:
        raise InvalidRequest("a deposit must be positive", field="amount_fen")
    return ledger.post(transfer(id, at_h, "deposit", f"external:{who}", buyer_account(who),
                                amount_fen))  # fmt: skip


@dataclass(frozen=True, slots=True)
class LeaseBook:
    """Every lease by id, and for each GPU the lease occupying it and until when."""

    leases: Mapping[str, Lease] = field(default_factory=lambda: MappingProxyType({}))
    holder: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    busy_until_h: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    next_slot: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, lease_id: str) -> Lease:
        if lease_id not in self.leases:
            raise InvalidRequest(f"no lease {lease_id!r}", field="lease_id")
        return self.leases[lease_id]

    def active(self) -> tuple[Lease, ...]:
        return tuple(x for x in self.leases.values() if x.state is LeaseState.ACTIVE)

    def _with(
        self,
        leases: Iterable[Lease],
        *,
        hold: Iterable[tuple[str, str, float]] = (),
        release: Iterable[tuple[str, float]] = (),
        next_slot: Mapping[str, int] | None = None,
    ) -> LeaseBook:
        all_leases = dict(self.leases)
        for x in leases:
            all_leases[x.id] = x
        holder, busy = dict(self.holder), dict(self.busy_until_h)
        for gpu_id, until in release:
            holder.pop(gpu_id, None)
            busy[gpu_id] = until
        for gpu_id, lease_id, until in hold:
            holder[gpu_id] = lease_id
            busy[gpu_id] = until
        return LeaseBook(
            MappingProxyType(all_leases),
            MappingProxyType(holder),
            MappingProxyType(busy),
            self.next_slot if next_slot is None else MappingProxyType(dict(next_slot)),
        )


def open_leases(book: LeaseBook, fills: Iterable[Fill]) -> tuple[LeaseBook, tuple[Lease, ...]]:
    """Pending leases for ``fills`` (one per fill; its GPUs numbered within the seller's ask)."""
    slots = dict(book.next_slot)
    new: list[Lease] = []
    for f in fills:
        lease_id = f"L-{f.id}"
        if lease_id in book.leases:
            raise Conflict(f"fill {f.id} already has lease {lease_id}")
        first = slots.get(f.ask_id, 0)
        slots[f.ask_id] = first + f.gpus
        new.append(
            Lease(
                id=lease_id, fill_id=f.id, instrument=f.instrument, buyer=f.buyer,
                seller=f.seller, gpu_ids=tuple(f"{f.ask_id}/{k}" for k in range(first,
                first + f.gpus)), price_fen_per_gpu_hour=f.price_fen_per_gpu_hour,
                start_h=f.instrument.start_h, end_h=f.instrument.end_h, priority=f.priority,
            )
        )  # fmt: skip
    return book._with(new, next_slot=slots), tuple(new)


def activate(
    book: LeaseBook, ledger: Ledger, lease_id: str, *, now_h: float
) -> tuple[LeaseBook, Ledger]:
    """pending -> active: the GPUs must be free, the buyer prepays the window into escrow."""
    lease = book.get(lease_id)
    if lease.state is not LeaseState.PENDING:
        raise Conflict(f"lease {lease_id} is {lease.state.value}, not pending")
    if now_h < lease.start_h:
        raise Conflict(f"lease {lease_id} starts at {lease.start_h:g} h, not before")
    if now_h >= lease.end_h:
        raise Conflict(f"lease {lease_id}'s window ended at {lease.end_h:g} h")
    for gpu_id in lease.gpu_ids:
        other = book.holder.get(gpu_id)
        if other is not None or book.busy_until_h.get(gpu_id, -math.inf) > now_h:
            raise Conflict(
                f"GPU {gpu_id} is still held by lease {other or 'on notice'}",
                context={"gpu": gpu_id, "lease": other},
            )
    active = replace(lease, state=LeaseState.ACTIVE, activated_at_h=now_h)
    tx = transfer(
        f"{lease_id}:prepay", now_h, "prepay lease", buyer_account(lease.buyer),
        active.escrow_account, active.prepaid_fen,
    )  # fmt: skip
    hold = [(g, lease_id, lease.end_h) for g in lease.gpu_ids]
    return book._with([active], hold=hold), ledger.post(tx)


def _bill(lease: Lease, until_h: float, fee_bps: int) -> tuple[Lease, tuple[Transaction, ...]]:
    """Bill ``lease`` up to ``until_h`` hours after its start (clamped to its window)."""
    used = min(max(until_h, lease.metered_h), lease.hours)
    amount = lease.due_fen(used) - lease.due_fen(lease.metered_h)
    if amount <= 0:
        return replace(lease, metered_h=used), ()
    fee = fee_fen(amount, fee_bps)
    tx = Transaction(
        f"{lease.id}:meter:{used:g}",
        lease.start_h + used,
        "metered rent",
        (
            Entry(lease.escrow_account, -amount),
            Entry(seller_account(lease.seller), amount - fee),
            Entry(PLATFORM_FEES, fee),
        ),
    )
    return replace(lease, metered_h=used), (tx,)


def _refund(lease: Lease, at_h: float) -> tuple[Transaction, ...]:
    rest = lease.prepaid_fen - lease.due_fen(lease.metered_h)
    if rest <= 0:
        return ()
    return (
        transfer(f"{lease.id}:refund", at_h, f"refund ({lease.state.value})",
                 lease.escrow_account, buyer_account(lease.buyer), rest),
    )  # fmt: skip


def meter(
    book: LeaseBook, ledger: Ledger, *, now_h: float, fee_bps: int = 500
) -> tuple[LeaseBook, Ledger]:
    """Bill every active lease its whole hours used up to ``now_h``; leases whose window is
    over are billed in full and end."""
    changed: list[Lease] = []
    txs: list[Transaction] = []
    release: list[tuple[str, float]] = []
    for lease in book.active():
        if now_h >= lease.end_h:
            billed, t = _bill(lease, lease.hours, fee_bps)
            billed = replace(billed, state=LeaseState.ENDED, ended_at_h=lease.end_h)
            release.extend((g, lease.end_h) for g in lease.gpu_ids)
        else:
            whole = math.floor(now_h - lease.start_h)
            if whole <= lease.metered_h:
                continue
            billed, t = _bill(lease, whole, fee_bps)
        changed.append(billed)
        txs.extend(t)
    return book._with(changed, release=release), ledger.post(*txs)


def cancel(
    book: LeaseBook, ledger: Ledger, lease_id: str, *, now_h: float, fee_bps: int = 500
) -> tuple[LeaseBook, Ledger]:
    """pending|active -> cancelled. An active lease pays for the time used (started hours
    are billed pro rata) and gets the rest of its escrow back."""
    lease = book.get(lease_id)
    if lease.state is LeaseState.PENDING:
        done = replace(lease, state=LeaseState.CANCELLED, ended_at_h=now_h)
        return book._with([done]), ledger
    if lease.state is not LeaseState.ACTIVE:
        raise Conflict(f"lease {lease_id} is {lease.state.value}; it cannot be cancelled")
    stop_h = min(max(now_h, lease.start_h), lease.end_h)
    billed, t = _bill(lease, stop_h - lease.start_h, fee_bps)
    done = replace(billed, state=LeaseState.CANCELLED, ended_at_h=stop_h)
    release = [(g, stop_h) for g in lease.gpu_ids]
    return book._with([done], release=release), ledger.post(*t, *_refund(done, stop_h))


def stop_for_preemption(
    lease: Lease, *, now_h: float, notice_h: float, by: str, fee_bps: int
) -> tuple[Lease, tuple[Transaction, ...], float]:
    """Mark one lease preempted; returns it, its settlement and when its GPUs are free."""
    if lease.state is LeaseState.PENDING:
        done = replace(lease, state=LeaseState.PREEMPTED, ended_at_h=now_h, preempted_by=by)
        return done, (), now_h
    stop_h = min(now_h + notice_h, lease.end_h)
    billed, t = _bill(lease, stop_h - lease.start_h, fee_bps)
    done = replace(billed, state=LeaseState.PREEMPTED, ended_at_h=stop_h, preempted_by=by)
    return done, (*t, *_refund(done, stop_h)), stop_h
