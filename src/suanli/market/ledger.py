"""A double-entry ledger in integer minor units (fen).

Every :class:`Transaction` is a set of entries (account, amount) that sums to exactly zero,
so the sum over all account balances is zero after any sequence of postings: money is
neither lost nor counted twice. Positive balances are what the exchange owes an account
(a seller's earnings, a buyer's prepaid credit), negative ones what an account has put in
from outside (``external:*``) or owes.

Accounts used by the market (see :mod:`suanli.market.leases`)::

    external:<who>     money entering or leaving the exchange (deposits, payouts)
    buyer:<who>        a buyer's spendable balance
    escrow:<lease>     prepaid rent held for one lease until it is metered or refunded
    seller:<who>       a seller's earnings
    platform:fees      the exchange's fee income

The :class:`Ledger` is an immutable value: :meth:`Ledger.post` returns a new ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from suanli.errors import InvalidRequest

PLATFORM_FEES = "platform:fees"


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One balanced posting: ``sum(e.amount_fen for e in entries) == 0``."""

    id: str
    at_h: float
    memo: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise InvalidRequest("a transaction needs at least one entry", field="entries")
        for e in self.entries:
            if isinstance(e.amount_fen, bool) or not isinstance(e.amount_fen, int):
                raise InvalidRequest(
                    f"amount {e.amount_fen!r} is not a whole number of fen", field="amount_fen"
                )
            if not e.account:
                raise InvalidRequest("an entry needs an account", field="account")
        total = sum(e.amount_fen for e in self.entries)
        if total != 0:
            raise InvalidRequest(
                f"transaction {self.id} is unbalanced by {total} fen", field="entries"
            )


def transfer(
    id: str, at_h: float, memo: str, debit: str, credit: str, amount_fen: int
) -> Transaction:
    """Move ``amount_fen`` from ``debit`` to ``credit`` (two entries)."""
    return Transaction(id, at_h, memo, (Entry(debit, -amount_fen), Entry(credit, amount_fen)))


@dataclass(frozen=True, slots=True)
class _Journal:
    """A persistent (shared-tail) list of transactions, newest first."""

    head: Transaction
    tail: _Journal | None


@dataclass(frozen=True, slots=True)
class Ledger:
    """Balances and the journal that produced them."""

    balances: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    count: int = 0
    _journal: _Journal | None = field(default=None, repr=False, compare=False)

    def post(self, *transactions: Transaction) -> Ledger:
        """A new ledger with ``transactions`` applied (each already checked to balance)."""
        if not transactions:
            return self
        balances = dict(self.balances)
        journal = self._journal
        for tx in transactions:
            if not isinstance(tx, Transaction):
                raise InvalidRequest("only Transactions can be posted", field="transaction")
            for e in tx.entries:
                balances[e.account] = balances.get(e.account, 0) + e.amount_fen
            journal = _Journal(tx, journal)
        return Ledger(MappingProxyType(balances), self.count + len(transactions), journal)

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def total(self) -> int:
        """The sum of every balance: always zero."""
        return sum(self.balances.values())

    def transactions(self) -> tuple[Transaction, ...]:
        """The journal, oldest first."""
        out: list[Transaction] = []
        node = self._journal
        while node is not None:
            out.append(node.head)
            node = node.tail
        return tuple(reversed(out))

    def __iter__(self) -> Iterator[Transaction]:
        return iter(self.transactions())

    def accounts(self, prefix: str = "") -> dict[str, int]:
        """Balances of the accounts whose name starts with ``prefix``, sorted by name."""
        return {k: v for k, v in sorted(self.balances.items()) if k.startswith(prefix)}

    @classmethod
    def of(cls, transactions: Iterable[Transaction]) -> Ledger:
        return cls().post(*transactions)


def fee_fen(amount_fen: int, fee_bps: int) -> int:
    """The platform's fee on ``amount_fen`` at ``fee_bps`` basis points, rounded down."""
    if not 0 <= fee_bps <= 10_000:
        raise InvalidRequest(f"fee {fee_bps} bps is outside 0..10000", field="fee_bps")
    return amount_fen * fee_bps // 10_000
