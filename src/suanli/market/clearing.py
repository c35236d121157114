"""Periodic uniform-price call auction, one per instrument, vectorised over the whole book.

For one instrument let bids be sorted by limit descending and asks by reserve ascending
(ties: earlier ``seq`` first, then smaller id). Writing :math:`b_k` for the limit of the
k-th demanded GPU and :math:`a_k` for the reserve of the k-th offered GPU, the traded volume

.. math::  V = \\max \\{ k : b_k \\ge a_k \\} = \\max_i \\min(C^b_i, S(b_i))

is the largest volume any uniform price can support (:math:`C^b_i` is the cumulative
quantity of bids 1..i, :math:`S(p)` the ask quantity with reserve :math:`\\le p`). Filling the
first V demanded and offered units also maximises surplus :math:`\\sum b_k - \\sum a_k` among
volume-maximal outcomes. The clearing price is the midpoint of the marginal interval

.. math::  [\\max(a_V, b_{V+1}),\\ \\min(b_V, a_{V+1})]

(missing neighbours dropped), rounded down to a whole fen; it never exceeds a filled bid's
limit nor falls below a filled ask's reserve. A partially filled marginal order gets the
rest of its quantity back unfilled; ties at the margin go to the earlier order.

Everything above is sort + cumulative sums + ``searchsorted`` over all instruments at once
(a composite key ``instrument * K + price`` keeps instruments apart).

**All-or-nothing bids.** With AON bids the first V units are no longer an allocation. An
instrument with at least one AON bid is cleared by :func:`suanli.market.aon.clear_with_aon`:
among the allocations of maximal volume, one of maximal surplus, found exactly by a knapsack
table over the GPUs that can trade (threshold scan); see there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from suanli.market.aon import clear_with_aon
from suanli.market.orders import MAX_PRICE_FEN, Instrument, Order, OrderBook, Side

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_K = MAX_PRICE_FEN + 2  # composite key stride: instrument * _K + price


@dataclass(frozen=True, slots=True)
class Fill:
    """``gpus`` GPUs of ``instrument`` sold by ``seller``'s ask to ``buyer``'s bid."""

    id: str
    instrument: Instrument
    bid_id: str
    ask_id: str
    buyer: str
    seller: str
    gpus: int
    price_fen_per_gpu_hour: int
    cleared_at_h: float
    priority: int = 0

    @property
    def gpu_hours(self) -> float:
        return self.gpus * self.instrument.hours

    @property
    def amount_fen(self) -> int:
        """What the whole window costs the buyer."""
        return round(self.price_fen_per_gpu_hour * self.gpus * self.instrument.hours)


class FillSeq(Sequence[Fill]):
    """The fills of a clearing as a read-only sequence over the trade arrays.

    Building 50,000 frozen dataclasses costs more than the clearing itself, so each
    :class:`Fill` is made when it is read (and kept). Compares equal to any sequence of
    the same fills.
    """

    __slots__ = ("_args", "_cache", "_n")

    def __init__(
        self,
        orders: Sequence[Order],
        instruments: Sequence[Instrument],
        group: IntArray,
        trade_bid: IntArray,
        trade_ask: IntArray,
        trade_gpus: IntArray,
        price: IntArray,
        at_h: float,
        prefix: str,
    ) -> None:
        self._args = (orders, instruments, group, trade_bid.tolist(), trade_ask.tolist(),
                      trade_gpus.tolist(), price, at_h, prefix)  # fmt: skip
        self._n = len(trade_bid)
        self._cache: dict[int, Fill] = {}

    def _make(self, k: int) -> Fill:
        orders, instruments, group, tb, ta, tq, price, at_h, prefix = self._args
        b, a = tb[k], ta[k]
        g = int(group[b])
        bid_order, ask_order = orders[b], orders[a]
        return Fill(
            f"{prefix}{k}", instruments[g], bid_order.id, ask_order.id, bid_order.account,
            ask_order.account, tq[k], int(price[g]), at_h, bid_order.priority,
        )  # fmt: skip

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Fill: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Fill, ...]: ...
    def __getitem__(self, index: int | slice) -> Fill | tuple[Fill, ...]:
        if isinstance(index, slice):
            return tuple(self[k] for k in range(*index.indices(self._n)))
        k = index + self._n if index < 0 else index
        if not 0 <= k < self._n:
            raise IndexError(index)
        found = self._cache.get(k)
        if found is None:
            found = self._cache[k] = self._make(k)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(x == y for x, y in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FillSeq({self._n} fills)"


@dataclass(frozen=True, slots=True)
class InstrumentClearing:
    """One instrument's auction outcome: price (None if nothing traded), volume, method."""

    instrument: Instrument
    price_fen_per_gpu_hour: int | None
    volume_gpus: int
    price_interval_fen: tuple[int, int] | None
    surplus_fen_per_hour: int
    bids: int
    asks: int
    method: str  # "sort" (divisible), "aon-exact" or "aon-greedy" (beyond the exact table)


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """The outcome of one clearing round over a book."""

    cleared_at_h: float
    fills: Sequence[Fill]  # a FillSeq: Fill values are built when read
    instruments: tuple[InstrumentClearing, ...]
    filled_gpus: Mapping[str, int]  # order id -> GPUs filled (only orders with a fill)

    @property
    def volume_gpus(self) -> int:
        return sum(c.volume_gpus for c in self.instruments)

    def price(self, inst: Instrument) -> int | None:
        for c in self.instruments:
            if c.instrument == inst:
                return c.price_fen_per_gpu_hour
        return None


@dataclass(frozen=True, slots=True)
class ArrayClearing:
    """Array form of a clearing: per order fills, per instrument outcome, and trades."""

    fill: IntArray  # per input order
    volume: IntArray  # per instrument code
    price: IntArray  # per instrument code, -1 when nothing traded
    price_lo: IntArray
    price_hi: IntArray
    surplus: IntArray
    aon_group: BoolArray
    aon_exact: BoolArray  # per instrument: its AON clearing was exact (not the greedy fallback)
    trade_bid: IntArray  # input index of the bid
    trade_ask: IntArray  # input index of the ask
    trade_gpus: IntArray


def _group_offsets(groups: IntArray, cum: IntArray, n_groups: int) -> tuple[IntArray, IntArray]:
    """First index of each group in a group-sorted array and the cumulative sum before it."""
    first = np.searchsorted(groups, np.arange(n_groups), side="left")
    before = np.concatenate(([0], cum))[first]
    return first, before


def clear_arrays(
    group: IntArray,
    is_bid: BoolArray,
    price: IntArray,
    qty: IntArray,
    aon: BoolArray,
    rank: IntArray,
    n_groups: int,
) -> ArrayClearing:
    """Clear every instrument at once. ``group`` is the instrument code (0..n_groups-1) of each
    order, ``rank`` its time priority (smaller first, unique within a group)."""
    n = len(group)
    bid_idx = np.flatnonzero(is_bid)
    ask_idx = np.flatnonzero(~is_bid)
    bid_idx = bid_idx[np.lexsort((rank[bid_idx], -price[bid_idx], group[bid_idx]))]
    ask_idx = ask_idx[np.lexsort((rank[ask_idx], price[ask_idx], group[ask_idx]))]
    gb, pb, qb = group[bid_idx], price[bid_idx], qty[bid_idx]
    ga, pa, qa = group[ask_idx], price[ask_idx], qty[ask_idx]
    cb, ca = np.cumsum(qb), np.cumsum(qa)
    _, ob = _group_offsets(gb, cb, n_groups)
    first_a, oa = _group_offsets(ga, ca, n_groups)

    # S(b_i): ask quantity of the same instrument with reserve <= b_i.
    ask_key = ga * _K + pa
    pos = np.searchsorted(ask_key, gb * _K + pb, side="right")
    supply_at_bid = np.concatenate(([0], ca))[pos] - oa[gb]
    cb_local = cb - ob[gb]
    volume = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(volume, gb, np.minimum(cb_local, supply_at_bid))

    fb = np.clip(volume[gb] - (cb_local - qb), 0, qb)
    fa = np.clip(volume[ga] - (ca - oa[ga] - qa), 0, qa)

    price_lo, price_hi = _marginal_interval(volume, cb, ob, gb, pb, ca, oa, ga, pa)
    clearing_price = np.where(volume > 0, (price_lo + price_hi) // 2, -1)

    aon_group = np.zeros(n_groups, dtype=bool)
    aon_group[group[is_bid & aon]] = True
    aon_exact = aon_group.copy()
    if aon_group.any():
        first_b = np.searchsorted(gb, np.arange(n_groups), side="left")
        for g in np.flatnonzero(aon_group):
            b0, b1 = first_b[g], np.searchsorted(gb, g, side="right")
            a0, a1 = first_a[g], np.searchsorted(ga, g, side="right")
            res = clear_with_aon(pb[b0:b1], qb[b0:b1], aon[bid_idx[b0:b1]], pa[a0:a1], qa[a0:a1])
            fb[b0:b1], fa[a0:a1] = res.bid_fill, res.ask_fill
            volume[g], clearing_price[g] = res.volume, res.price
            price_lo[g], price_hi[g] = res.price_lo, res.price_hi
            aon_exact[g] = res.exact

    surplus = np.zeros(n_groups, dtype=np.int64)
    np.add.at(surplus, gb, fb * pb)
    np.subtract.at(surplus, ga, fa * pa)

    fill = np.zeros(n, dtype=np.int64)
    fill[bid_idx], fill[ask_idx] = fb, fa
    trade_b, trade_a, trade_q = _pair(fb, fa)
    return ArrayClearing(
        fill, volume, clearing_price, price_lo, price_hi, surplus, aon_group, aon_exact,
        bid_idx[trade_b], ask_idx[trade_a], trade_q,
    )  # fmt: skip


def _marginal_interval(
    volume: IntArray,
    cb: IntArray,
    ob: IntArray,
    gb: IntArray,
    pb: IntArray,
    ca: IntArray,
    oa: IntArray,
    ga: IntArray,
    pa: IntArray,
) -> tuple[IntArray, IntArray]:
    """[max(a_V, b_{V+1}), min(b_V, a_{V+1})] per instrument (zeros where V = 0)."""
    groups = np.arange(len(volume))

    def unit_price(cum: IntArray, off: IntArray, g: IntArray, p: IntArray, k: IntArray) -> Any:
        idx = np.searchsorted(cum, off + k, side="left")
        safe = np.minimum(idx, max(len(cum) - 1, 0))
        ok = (idx < len(cum)) & (k >= 1)
        if len(cum):
            ok &= g[safe] == groups
            return np.where(ok, p[safe], -1), ok
        return np.full(len(k), -1), ok

    b_v, _ = unit_price(cb, ob, gb, pb, volume)
    a_v, _ = unit_price(ca, oa, ga, pa, volume)
    b_next, has_b_next = unit_price(cb, ob, gb, pb, volume + 1)
    a_next, has_a_next = unit_price(ca, oa, ga, pa, volume + 1)
    lo = np.where(has_b_next, np.maximum(a_v, b_next), a_v)
    hi = np.where(has_a_next, np.minimum(b_v, a_next), b_v)
    traded = volume > 0
    return np.where(traded, lo, 0).astype(np.int64), np.where(traded, hi, 0).astype(np.int64)


def _pair(fb: IntArray, fa: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Match filled bid units to filled ask units in priority order (both sides sorted by
    instrument, so each instrument's traded units line up)."""
    cum_b, cum_a = np.cumsum(fb), np.cumsum(fa)
    ends = np.union1d(cum_b[fb > 0], cum_a[fa > 0])
    if len(ends) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.concatenate(([0], ends[:-1]))
    return (
        np.searchsorted(cum_b, ends, side="left"),
        np.searchsorted(cum_a, ends, side="left"),
        (ends - starts).astype(np.int64),
    )


def clear(
    book: OrderBook | Iterable[Order],
    *,
    instrument: Instrument | None = None,
    at_h: float = 0.0,
    fill_prefix: str = "F",
) -> ClearingResult:
    """Run one call auction per instrument over ``book`` (or only ``instrument``'s).

    Orders given as a plain list take their list position as arrival order where they have
    no ``seq``. Fill ids are ``{fill_prefix}{n}``, numbered in instrument then priority order.
    """
    orders: Sequence[Order] = book.orders if isinstance(book, OrderBook) else list(book)
    if instrument is not None:
        orders = [o for o in orders if o.instrument == instrument]
    n = len(orders)
    # Instrument codes: books share Instrument objects, so look them up by identity first
    # (hashing a dataclass per order is the slowest part of the conversion).
    codes: dict[Instrument, int] = {}
    by_identity: dict[int, int] = {}
    raw = np.empty(n, dtype=np.int64)
    for k, o in enumerate(orders):
        inst = o.instrument
        code = by_identity.get(id(inst))
        if code is None:
            code = codes.setdefault(inst, len(codes))
            by_identity[id(inst)] = code
        raw[k] = code
    ordered = sorted(codes)
    remap = np.zeros(len(codes), dtype=np.int64)
    for new_code, inst in enumerate(ordered):
        remap[codes[inst]] = new_code
    group = remap[raw] if n else raw
    is_bid = np.fromiter((o.side is Side.BID for o in orders), bool, n)
    price = np.fromiter((o.price_fen_per_gpu_hour for o in orders), np.int64, n)
    qty = np.fromiter((o.quantity_gpus for o in orders), np.int64, n)
    aon = np.fromiter((o.all_or_nothing for o in orders), bool, n)
    rank = _time_rank(orders)
    result = clear_arrays(group, is_bid, price, qty, aon, rank, len(ordered))
    return _to_result(orders, ordered, group, is_bid, result, at_h, fill_prefix)


def _time_rank(orders: Sequence[Order]) -> IntArray:
    """Arrival rank: ``seq`` (list position where unset), ties broken by id."""
    seq = np.fromiter(
        (o.seq if o.seq >= 0 else i for i, o in enumerate(orders)), np.int64, len(orders)
    )
    if len(seq) < 2 or bool(np.all(seq[1:] > seq[:-1])) or len(np.unique(seq)) == len(seq):
        return seq
    ids = [o.id for o in orders]
    order = sorted(range(len(orders)), key=lambda i: (int(seq[i]), ids[i]))
    rank = np.empty(len(orders), dtype=np.int64)
    rank[order] = np.arange(len(orders))
    return rank


def _to_result(
    orders: Sequence[Order],
    instruments: Sequence[Instrument],
    group: IntArray,
    is_bid: BoolArray,
    arrays: ArrayClearing,
    at_h: float,
    fill_prefix: str,
) -> ClearingResult:
    n_groups = len(instruments)
    counts_b = np.bincount(group[is_bid], minlength=n_groups)
    counts_a = np.bincount(group[~is_bid], minlength=n_groups)
    per_inst: list[InstrumentClearing] = []
    for g, inst in enumerate(instruments):
        traded = int(arrays.volume[g]) > 0
        per_inst.append(
            InstrumentClearing(
                instrument=inst,
                price_fen_per_gpu_hour=int(arrays.price[g]) if traded else None,
                volume_gpus=int(arrays.volume[g]),
                price_interval_fen=(int(arrays.price_lo[g]), int(arrays.price_hi[g]))
                if traded
                else None,
                surplus_fen_per_hour=int(arrays.surplus[g]),
                bids=int(counts_b[g]),
                asks=int(counts_a[g]),
                method=_method(bool(arrays.aon_group[g]), bool(arrays.aon_exact[g])),
            )
        )
    fills = FillSeq(
        orders, instruments, group, arrays.trade_bid, arrays.trade_ask, arrays.trade_gpus,
        arrays.price, at_h, fill_prefix,
    )  # fmt: skip
    filled_idx = np.flatnonzero(arrays.fill)
    done = arrays.fill[filled_idx].tolist()
    filled = {orders[i].id: q for i, q in zip(filled_idx.tolist(), done, strict=True)}
    return ClearingResult(at_h, fills, tuple(per_inst), MappingProxyType(filled))


def _method(has_aon: bool, exact: bool) -> str:
    if not has_aon:
        return "sort"
    return "aon-exact" if exact else "aon-greedy"


def residual(book: OrderBook, result: ClearingResult) -> OrderBook:
    """The book after ``result``: filled orders removed, partial fills reduced."""
    kept: list[Order] = []
    for o in book.orders:
        done = result.filled_gpus.get(o.id, 0)
        if done < o.quantity_gpus:
            kept.append(replace(o, quantity_gpus=o.quantity_gpus - done) if done else o)
    return OrderBook(listed=book.listed, next_seq=book.next_seq).extend(kept)
