"""Leases, ledger, preemption and replay, driven by random event sequences."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from suanli.errors import Conflict, Infeasible, SuanliError
from suanli.market import (
    LeaseBook,
    LeaseState,
    Ledger,
    MarketState,
    activate,
    apply,
    ask,
    bid,
    clear,
    instrument,
    meter,
    open_leases,
    preempt,
    replay,
)
from suanli.market.events import (
    Activate,
    CancelLease,
    CancelOrder,
    Clear,
    Deposit,
    Event,
    Meter,
    PlaceOrder,
    Preempt,
)
from suanli.market.ledger import PLATFORM_FEES, Transaction, transfer

SPOT = instrument("H100", "zhongwei", "interruptible", 0, 6)
ON_DEMAND = instrument("H100", "zhongwei", "on-demand", 0, 6)
LONG_SPOT = instrument("H100", "zhongwei", "interruptible", 0, 24)
LONG_ON_DEMAND = instrument("H100", "zhongwei", "on-demand", 0, 24)


def test_lease_money_flow() -> None:
    result = clear([bid("b", SPOT, "alice", 10, 4), ask("a", SPOT, "dc1", 6, 4)])
    book, leases = open_leases(LeaseBook(), result.fills)
    (lease,) = leases
    assert lease.state is LeaseState.PENDING and lease.gpus == 4
    ledger = Ledger()
    book, ledger = activate(book, ledger, lease.id, now_h=0)
    assert ledger.balance(lease.escrow_account) == lease.prepaid_fen == 800 * 4 * 6
    book, ledger = meter(book, ledger, now_h=2.5, fee_bps=500)
    assert book.get(lease.id).metered_h == 2
    assert ledger.balance("seller:dc1") + ledger.balance(PLATFORM_FEES) == 800 * 4 * 2
    assert ledger.balance(PLATFORM_FEES) == 800 * 4 * 2 * 5 // 100
    book, ledger = meter(book, ledger, now_h=7)
    assert book.get(lease.id).state is LeaseState.ENDED
    assert ledger.balance(lease.escrow_account) == 0
    assert ledger.balance("buyer:alice") == -lease.prepaid_fen
    assert ledger.total() == 0


def test_preemption_refunds_and_displaces_only_lower_priority() -> None:
    result = clear(
        [
            bid("low", SPOT, "alice", 10, 4, priority=1),
            bid("high", SPOT, "bob", 10, 4, priority=9),
            ask("a", SPOT, "dc1", 6, 8),
        ]
    )
    book, leases = open_leases(LeaseBook(), result.fills)
    ledger = Ledger()
    for lease in leases:
        book, ledger = activate(book, ledger, lease.id, now_h=0)
    demand = bid("urgent", ON_DEMAND, "carol", 30, 4, priority=5, all_or_nothing=True)
    out = preempt(book, ledger, demand, now_h=1.0)
    (victim,) = out.victims
    assert victim.buyer == "alice" and victim.state is LeaseState.PREEMPTED
    assert victim.ended_at_h == 1.25  # 15 minutes' notice
    refund = victim.prepaid_fen - victim.due_fen(1.25)
    assert refund > 0
    assert out.ledger.balance("buyer:alice") == -victim.prepaid_fen + refund
    assert out.ledger.balance(victim.escrow_account) == 0
    (new,) = out.leases
    assert new.start_h == 1.25 and new.gpu_ids == victim.gpu_ids
    with pytest.raises(Conflict):  # the GPUs are still on notice
        activate(out.book, out.ledger, new.id, now_h=1.1)
    book2, _ = activate(out.book, out.ledger, new.id, now_h=1.25)
    assert book2.get(new.id).state is LeaseState.ACTIVE
    with pytest.raises(Infeasible):  # priority 5 cannot displace bob (priority 9)
        preempt(out.book, out.ledger, bid("more", ON_DEMAND, "dan", 30, 4, priority=5,
                                          all_or_nothing=True), now_h=1.0)  # fmt: skip


def test_unbalanced_transaction_is_refused() -> None:
    with pytest.raises(SuanliError):
        Transaction("t", 0, "bad", ())
    tx = transfer("t", 0, "ok", "x", "y", 5)
    with pytest.raises(SuanliError):
        Transaction("t", 0, "bad", (*tx.entries, tx.entries[0]))
    assert Ledger().post(tx).total() == 0


@st.composite
def event_sequences(draw: st.DrawFn) -> list[tuple[str, int, int, int]]:
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "bid",
                        "bid",
                        "ask",
                        "ask",
                        "clear",
                        "activate",
                        "activate",
                        "activate",
                        "meter",
                        "cancel",
                        "preempt",
                        "preempt",
                        "deposit",
                        "cancel_order",
                    ]
                ),
                st.integers(0, 9),
                st.integers(1, 6),
                st.integers(0, 5),
            ),
            min_size=5,
            max_size=40,
        )
    )


def _event(state: MarketState, step: int, op: tuple[str, int, int, int], now: float) -> Event:
    kind, a, q, p = op
    inst = LONG_SPOT if a % 2 else LONG_ON_DEMAND
    if kind == "bid":
        return PlaceOrder(bid(f"b{step}", inst, f"buyer{a % 3}", 5 + a, q, priority=p,
                              all_or_nothing=a % 3 == 0))  # fmt: skip
    if kind == "ask":
        return PlaceOrder(ask(f"a{step}", inst, f"seller{a % 2}", 4 + a, q))
    if kind == "clear":
        return Clear(now)
    if kind in ("activate", "cancel"):
        ids = sorted(state.leases.leases)
        lease_id = ids[a % len(ids)] if ids else "none"
        return Activate(lease_id, now) if kind == "activate" else CancelLease(lease_id, now)
    if kind == "meter":
        return Meter(now)
    if kind == "preempt":
        return Preempt(bid(f"p{step}", LONG_ON_DEMAND, "urgent", 50, q, priority=p), now)
    if kind == "cancel_order":
        ids = [o.id for o in state.book.orders]
        return CancelOrder(ids[a % len(ids)] if ids else "none")
    return Deposit(f"buyer{a % 3}", 100 * q, now)


def _gpus_exclusive(state: MarketState) -> None:
    seen: dict[str, str] = {}
    for lease in state.leases.active():
        for g in lease.gpu_ids:
            assert g not in seen, f"GPU {g} in {seen[g]} and {lease.id}"
            seen[g] = lease.id
    # occupancy intervals of every lease that ever ran never overlap on one GPU
    spans: dict[str, list[tuple[float, float]]] = {}
    for lease in state.leases.leases.values():
        if lease.activated_at_h is None:
            continue
        stop = lease.ended_at_h if lease.ended_at_h is not None else lease.end_h
        for g in lease.gpu_ids:
            spans.setdefault(g, []).append((lease.activated_at_h, stop))
    for intervals in spans.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(["bid", "ask"]), st.integers(0, 9), st.integers(1, 6),
                       st.integers(0, 5)), min_size=2, max_size=10),
    event_sequences(),
)  # fmt: skip
def test_random_sequences_keep_every_invariant(
    opening: list[tuple[str, int, int, int]], ops: list[tuple[str, int, int, int]]
) -> None:
    state = MarketState()
    now = 0.0
    warm_up = [*opening, ("clear", 0, 1, 0), *[("activate", k, 1, 0) for k in range(4)]]
    for step, op in enumerate([*warm_up, *ops]):
        now += 0.25 * (step % 3)
        event = _event(state, step, op, now)
        before = state
        try:
            state = apply(state, event)
        except SuanliError:
            assert state is before
            continue
        assert state.ledger.total() == 0
        _gpus_exclusive(state)
        for lease_id, lease in state.leases.leases.items():
            old = before.leases.leases.get(lease_id)
            if lease.state is LeaseState.PREEMPTED and (
                old is None or old.state is not LeaseState.PREEMPTED
            ):
                demand = (
                    event.order
                    if isinstance(event, Preempt)
                    else before.book.get(str(lease.preempted_by))
                )
                assert lease.priority < demand.priority
                assert lease.instrument.pricing.value == "interruptible"
        for lease in state.leases.leases.values():
            if lease.state in (LeaseState.ENDED, LeaseState.PREEMPTED, LeaseState.CANCELLED):
                assert state.ledger.balance(lease.escrow_account) == 0
    ran = sum(x.activated_at_h is not None for x in state.leases.leases.values())
    note_event(f"leases that ran: {min(ran, 3)}")
    note_event(
        f"preempted: {any(x.state is LeaseState.PREEMPTED for x in state.leases.leases.values())}"
    )
    again = replay(state.log)
    assert again.ledger.balances == state.ledger.balances
    assert again.leases.leases == state.leases.leases
    assert again.fills == state.fills
    assert again.book == state.book


def test_clearing_lets_unfilled_on_demand_bids_preempt_spot_leases() -> None:
    state = MarketState()
    for event in (
        PlaceOrder(bid("spot", SPOT, "alice", 5, 8, priority=0)),
        PlaceOrder(ask("cap", SPOT, "dc1", 3, 8)),
        Clear(0.0),
        Activate("L-F0-0", 0.0),
        PlaceOrder(bid("urgent", ON_DEMAND, "bob", 20, 4, priority=3, all_or_nothing=True)),
        PlaceOrder(bid("meek", ON_DEMAND, "carol", 20, 4, priority=0)),
        Clear(1.0),
    ):
        state = apply(state, event)
    victim = state.leases.get("L-F0-0")
    assert victim.state is LeaseState.PREEMPTED and victim.preempted_by == "urgent"
    (new,) = [x for x in state.leases.leases.values() if x.buyer == "bob"]
    assert new.gpus == 4 and new.start_h == 1.25 and new.state is LeaseState.PENDING
    assert [o.id for o in state.book.orders] == ["meek"]  # priority 0 preempts nobody
    assert state.ledger.total() == 0
    assert replay(state.log).leases == state.leases
