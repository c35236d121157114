"""Instruments, orders and the order book.

An *instrument* is what one call auction trades: GPU-hours of one catalog GPU model, at one
hub or region, under one pricing type, over one time window. Sellers send *asks* (a reserve
price and a quantity of GPUs); buyers send *bids* (a limit price, a quantity, an
all-or-nothing flag for gangs, and a priority used by preemption).

Prices are integers in fen (0.01 CNY) per GPU-hour, so clearing and settlement are exact.
The :class:`OrderBook` is an immutable value: :meth:`OrderBook.add` validates an order and
returns a new book; a rejected order raises :class:`~suanli.errors.InvalidRequest` naming
the field and leaves the original book untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache, lru_cache
from types import MappingProxyType

from suanli.catalog import gpu as catalog_gpu
from suanli.catalog import normalise, sites
from suanli.errors import InvalidRequest, NotFound

FEN_PER_CNY = 100
MAX_PRICE_FEN = 10_000_000  # 100,000 CNY per GPU-hour: far above any real price
MAX_QUANTITY_GPUS = 1_000_000


class Pricing(StrEnum):
    """How capacity is sold: on demand, interruptible (preemptible) or reserved."""

    ON_DEMAND = "on-demand"
    INTERRUPTIBLE = "interruptible"
    RESERVED = "reserved"


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


def fen(cny: float) -> int:
    """CNY -> integer fen, rounded half away from zero."""
    if not math.isfinite(cny):
        raise InvalidRequest(f"price {cny!r} is not a finite number", field="price")
    return math.floor(abs(cny) * FEN_PER_CNY + 0.5) * (1 if cny >= 0 else -1)


def cny(amount_fen: int) -> float:
    """Integer fen -> CNY."""
    return amount_fen / FEN_PER_CNY


@cache
def _hub_names() -> dict[str, str]:
    """Normalised name -> canonical hub key: site ids, hub names and roles (built once)."""
    names: dict[str, str] = {}
    for s in sites():
        names[normalise(s.id)] = s.id
        names[normalise(s.name)] = s.id
        if s.hub:
            names[normalise(s.hub)] = s.hub
        names[normalise(s.role)] = s.role
    return names


def resolve_hub(name: str) -> str:
    """A site id, a national hub name or a region role (east/west/metro/central), canonical."""
    key = normalise(name)
    names = _hub_names()
    if key in names:
        return names[key]
    known = sorted(set(names.values()))
    raise InvalidRequest(
        f"unknown hub {name!r}",
        field="hub",
        hint="Use a site id (e.g. zhongwei), a hub name (e.g. Ningxia) or a region "
        "(east, west, metro, central).",
        context={"known": known},
    )


def hub_contains(region: str, hub: str) -> bool:
    """Whether instrument hub ``hub`` lies in the queried ``region`` (same key, its hub or role).

    Both arguments are canonical (from :func:`resolve_hub`).
    """
    if region == hub:
        return True
    for s in sites():
        if s.id == hub:
            return region in (s.hub, s.role)
        if s.hub and s.hub == hub:
            return region == s.role
    return False


def resolve_gpu(name: str) -> str:
    """Canonical catalog GPU name; an unknown GPU is an InvalidRequest on field ``gpu``."""
    try:
        return catalog_gpu(name).name
    except NotFound as exc:
        raise InvalidRequest(exc.message, field="gpu", hint=exc.hint) from None


@dataclass(frozen=True, slots=True, order=True)
class Instrument:
    """GPU-hours of ``gpu`` at ``hub`` sold as ``pricing`` over ``[start_h, end_h)``.

    Times are hours on the exchange clock (hours since its epoch). Build with
    :func:`instrument` to validate and canonicalise the names.
    """

    gpu: str
    hub: str
    pricing: Pricing
    start_h: float
    end_h: float

    @property
    def hours(self) -> float:
        return self.end_h - self.start_h

    @property
    def key(self) -> str:
        """A stable text id: ``H100-SXM|zhongwei|on-demand|0-1``."""
        return f"{self.gpu}|{self.hub}|{self.pricing.value}|{self.start_h:g}-{self.end_h:g}"


def instrument(
    gpu: str, hub: str, pricing: str | Pricing, start_h: float, end_h: float
) -> Instrument:
    """Validate and canonicalise an instrument (GPU via the catalog, hub via the site list)."""
    try:
        kind = Pricing(pricing)
    except ValueError:
        raise InvalidRequest(
            f"unknown pricing type {pricing!r}",
            field="pricing",
            hint="Use on-demand, interruptible or reserved.",
        ) from None
    for name, value in (("start_h", start_h), ("end_h", end_h)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidRequest(f"{name} must be a finite number of hours", field=name)
    if end_h <= start_h:
        raise InvalidRequest(
            f"window ends ({end_h:g} h) before it starts ({start_h:g} h)",
            field="end_h",
            hint="end_h must be greater than start_h.",
        )
    return Instrument(resolve_gpu(gpu), resolve_hub(hub), kind, float(start_h), float(end_h))


def parse_instrument(key: str) -> Instrument:
    """The inverse of :attr:`Instrument.key`."""
    parts = key.split("|")
    if len(parts) != 4 or "-" not in parts[3]:
        raise InvalidRequest(
            f"malformed instrument {key!r}",
            field="instrument",
            hint="Write GPU|hub|pricing|start-end, e.g. H100-SXM|zhongwei|on-demand|0-1.",
        )
    start, _, end = parts[3].partition("-")
    try:
        start_h, end_h = float(start), float(end)
    except ValueError:
        raise InvalidRequest(f"malformed window in {key!r}", field="instrument") from None
    return instrument(parts[0], parts[1], parts[2], start_h, end_h)


@lru_cache(maxsize=4096)
def _is_canonical(inst: Instrument) -> bool:
    """Whether ``inst`` equals its validated form (memoised: books repeat instruments)."""
    return instrument(inst.gpu, inst.hub, inst.pricing, inst.start_h, inst.end_h) == inst


@dataclass(frozen=True, slots=True)
class Order:
    """A bid (buyer) or an ask (seller) for GPUs of one instrument.

    ``price_fen_per_gpu_hour`` is a bid's limit or an ask's reserve. ``all_or_nothing``
    (bids only) means the whole quantity or none (a gang). ``priority`` (bids only; higher
    wins) decides who may preempt interruptible capacity. ``seq`` is the arrival order the
    book assigns; ties in price go to the earlier order, then to the smaller id.
    """

    id: str
    side: Side
    instrument: Instrument
    account: str
    price_fen_per_gpu_hour: int
    quantity_gpus: int
    all_or_nothing: bool = False
    priority: int = 0
    seq: int = -1
    source: str = ""  # e.g. "placement:<demand id>" for bids made from a placement


def bid(
    id: str,
    inst: Instrument,
    buyer: str,
    limit_cny_per_gpu_hour: float,
    quantity_gpus: int,
    *,
    all_or_nothing: bool = False,
    priority: int = 0,
    source: str = "",
) -> Order:
    """A buyer's bid (the limit given in CNY per GPU-hour, stored in fen)."""
    return Order(
        id, Side.BID, inst, buyer, fen(limit_cny_per_gpu_hour), quantity_gpus,
        all_or_nothing, priority, -1, source,
    )  # fmt: skip


def ask(
    id: str, inst: Instrument, seller: str, reserve_cny_per_gpu_hour: float, quantity_gpus: int
) -> Order:
    """A seller's ask (the reserve given in CNY per GPU-hour, stored in fen)."""
    return Order(id, Side.ASK, inst, seller, fen(reserve_cny_per_gpu_hour), quantity_gpus)


def validate(order: Order) -> None:
    """Raise :class:`InvalidRequest` naming the first bad field of ``order``."""
    if not isinstance(order.id, str) or not order.id:
        raise InvalidRequest("order id must be a non-empty string", field="id")
    if not isinstance(order.side, Side):
        raise InvalidRequest(f"side must be bid or ask, not {order.side!r}", field="side")
    inst = order.instrument
    if not isinstance(inst, Instrument):
        raise InvalidRequest("unknown instrument", field="instrument")
    if inst.end_h <= inst.start_h:
        raise InvalidRequest(
            f"window ends ({inst.end_h:g} h) before it starts ({inst.start_h:g} h)",
            field="end_h",
        )
    if not _is_canonical(inst):
        raise InvalidRequest(
            f"instrument {inst.key} is not in canonical form",
            field="instrument",
            hint="Build instruments with suanli.market.instrument(...).",
        )
    if not isinstance(order.account, str) or not order.account:
        raise InvalidRequest("account (buyer or seller) must be non-empty", field="account")
    qty = order.quantity_gpus
    if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QUANTITY_GPUS:
        raise InvalidRequest(
            f"quantity {qty!r} is not a whole number of GPUs in 1..{MAX_QUANTITY_GPUS}",
            field="quantity_gpus",
        )
    price = order.price_fen_per_gpu_hour
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE_FEN:
        raise InvalidRequest(
            f"price {price!r} fen per GPU-hour is outside 0..{MAX_PRICE_FEN}",
            field="price",
        )
    if order.side is Side.ASK and order.all_or_nothing:
        raise InvalidRequest("only bids can be all-or-nothing", field="all_or_nothing")
    if not isinstance(order.priority, int) or isinstance(order.priority, bool):
        raise InvalidRequest("priority must be an integer", field="priority")


@dataclass(frozen=True, slots=True)
class OrderBook:
    """An immutable set of resting orders with their arrival sequence.

    ``listed`` optionally restricts the book to known instruments: when non-empty, an
    order for any other instrument is rejected as unknown.
    """

    orders: tuple[Order, ...] = ()
    next_seq: int = 0
    listed: frozenset[Instrument] = frozenset()
    _ids: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def add(self, order: Order) -> OrderBook:
        """A new book with ``order`` appended (validated; ``seq`` assigned if unset)."""
        return self.extend((order,))

    def extend(self, orders: Iterable[Order]) -> OrderBook:
        """A new book with all ``orders`` added, or an error and no change at all."""
        ids = dict(self._ids)
        added: list[Order] = []
        seq = self.next_seq
        for order in orders:
            validate(order)
            if self.listed and order.instrument not in self.listed:
                raise InvalidRequest(
                    f"instrument {order.instrument.key} is not listed on this book",
                    field="instrument",
                )
            if order.id in ids:
                raise InvalidRequest(f"duplicate order id {order.id!r}", field="id")
            if order.seq < 0:
                order = replace(order, seq=seq)
            seq = max(seq, order.seq) + 1
            ids[order.id] = len(self.orders) + len(added)
            added.append(order)
        return OrderBook(self.orders + tuple(added), seq, self.listed, MappingProxyType(ids))

    def cancel(self, order_id: str) -> OrderBook:
        """A new book without ``order_id`` (unknown ids are an InvalidRequest on ``id``)."""
        if order_id not in self._ids:
            raise InvalidRequest(f"no resting order {order_id!r}", field="id")
        kept = tuple(o for o in self.orders if o.id != order_id)
        return OrderBook(
            kept,
            self.next_seq,
            self.listed,
            MappingProxyType({o.id: i for i, o in enumerate(kept)}),
        )

    def get(self, order_id: str) -> Order:
        if order_id not in self._ids:
            raise InvalidRequest(f"no resting order {order_id!r}", field="id")
        return self.orders[self._ids[order_id]]

    def instruments(self) -> tuple[Instrument, ...]:
        """The instruments with at least one resting order, sorted."""
        return tuple(sorted({o.instrument for o in self.orders}))

    def __len__(self) -> int:
        return len(self.orders)

    @classmethod
    def of(cls, orders: Iterable[Order], *, listed: Iterable[Instrument] = ()) -> OrderBook:
        """A book holding ``orders`` (validated, in the given arrival order)."""
        return cls(listed=frozenset(listed)).extend(orders)
