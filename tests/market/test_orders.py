"""Instruments and orders: validation names the field; a rejected order changes nothing."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.errors import InvalidRequest
from suanli.market import (
    Instrument,
    OrderBook,
    Pricing,
    ask,
    bid,
    instrument,
    parse_instrument,
    reserved_ask,
    reserved_discount_bps,
)
from suanli.market.orders import hub_contains, resolve_hub

INST = instrument("H100", "zhongwei", "on-demand", 0, 1)


def test_instrument_is_canonical_and_round_trips() -> None:
    inst = instrument("h100 sxm", "Zhongwei", "interruptible", 2, 5)
    assert inst.gpu == "H100-SXM" and inst.hub == "zhongwei"
    assert inst.pricing is Pricing.INTERRUPTIBLE and inst.hours == 3
    assert parse_instrument(inst.key) == inst
    assert instrument("H100-PCIe", "west", "on-demand", 0, 1).gpu == "H100-PCIe"


def test_hubs_resolve_and_nest() -> None:
    assert resolve_hub("West") == "west"
    assert resolve_hub("ningxia") == "Ningxia"
    assert hub_contains("west", "zhongwei")
    assert hub_contains("Ningxia", "zhongwei")
    assert not hub_contains("east", "zhongwei")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: instrument("H100", "zhongwei", "on-demand", 5, 2), "end_h"),
        (lambda: instrument("Z9000", "zhongwei", "on-demand", 0, 1), "gpu"),
        (lambda: instrument("H100", "atlantis", "on-demand", 0, 1), "hub"),
        (lambda: instrument("H100", "zhongwei", "spot-ish", 0, 1), "pricing"),
        (lambda: parse_instrument("H100|zhongwei"), "instrument"),
    ],
)
def test_bad_instruments_name_the_field(build: object, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field


BAD_ORDERS = {
    "quantity_gpus": lambda: bid("x", INST, "B", 10, -3),
    "price": lambda: dataclasses.replace(ask("x", INST, "S", 10, 1), price_fen_per_gpu_hour=-1),
    "end_h": lambda: bid("x", Instrument("H100-SXM", "zhongwei", Pricing.ON_DEMAND, 4, 2),
                         "B", 10, 1),
    "gpu": lambda: bid("x", Instrument("Z9000", "zhongwei", Pricing.ON_DEMAND, 0, 1), "B", 10, 1),
    "hub": lambda: bid("x", Instrument("H100-SXM", "mars", Pricing.ON_DEMAND, 0, 1), "B", 10, 1),
    "account": lambda: bid("x", INST, "", 10, 1),
    "id": lambda: bid("b0", INST, "B", 10, 1),  # duplicate of a resting order
    "all_or_nothing": lambda: dataclasses.replace(ask("x", INST, "S", 10, 1), all_or_nothing=True),
}  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 2000), st.integers(1, 64)), max_size=8),
    st.sampled_from(sorted(BAD_ORDERS)),
)
def test_malformed_order_is_rejected_and_book_unchanged(
    rows: list[tuple[bool, int, int]], field: str
) -> None:
    good = [
        (bid if is_bid else ask)(f"{'b' if is_bid else 'a'}{i}", INST, "acct", price / 100, qty)
        for i, (is_bid, price, qty) in enumerate(rows)
    ]
    book = OrderBook.of([bid("b0", INST, "B", 10, 1), *good[1:]] if good else [])
    if field == "id" and "b0" not in {o.id for o in book.orders}:
        book = book.add(bid("b0", INST, "B", 10, 1))
    before = (book.orders, book.next_seq)
    with pytest.raises(InvalidRequest) as info:
        book.add(BAD_ORDERS[field]())
    assert info.value.field == field
    assert (book.orders, book.next_seq) == before
    with pytest.raises(InvalidRequest):
        book.extend([ask("fine", INST, "S", 9, 1), BAD_ORDERS[field]()])
    assert (book.orders, book.next_seq) == before


def test_listed_book_rejects_unknown_instrument() -> None:
    other = instrument("H20", "guian", "on-demand", 0, 1)
    book = OrderBook(listed=frozenset({INST}))
    book = book.add(bid("b", INST, "B", 10, 1))
    with pytest.raises(InvalidRequest) as info:
        book.add(bid("c", other, "B", 10, 1))
    assert info.value.field == "instrument"
    assert len(book) == 1


def test_cancel_and_sequence() -> None:
    book = OrderBook.of([bid("b", INST, "B", 10, 1), ask("a", INST, "S", 9, 1)])
    assert [o.seq for o in book.orders] == [0, 1]
    smaller = book.cancel("b")
    assert [o.id for o in smaller.orders] == ["a"] and len(book) == 2
    with pytest.raises(InvalidRequest):
        smaller.cancel("b")


def test_reserved_discounts_grow_with_length() -> None:
    steps = [reserved_discount_bps(h) for h in (1, 24, 24 * 7, 24 * 30, 24 * 90, 24 * 365)]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] > steps[1]
    month = instrument("H100", "zhongwei", "reserved", 0, 24 * 30)
    order = reserved_ask("r", month, "S", 10.0, 8)
    assert order.price_fen_per_gpu_hour == 800  # 20% off 10 CNY
    with pytest.raises(InvalidRequest):
        reserved_ask("r", INST, "S", 10.0, 8)
