"""SLO attainment of a served lease and the credits it earns the buyer (pure core).

A call **meets** the targets of the request its lease was quoted for when

- streamed: its time to first token ``TTFT <= ttft_ms`` and its time per output token after
  the first ``TPOT = (e2e - TTFT) / (output_tokens - 1) <= tpot_ms`` (a one-token answer
  has no TPOT and meets that part);
- not streamed (the first token is not seen apart from the rest):
  ``e2e <= ttft_ms + (output_tokens - 1) * tpot_ms``;
- failed (a connection error, a 5xx, a stream cut short): never.

An hour's **attainment** is ``ok / calls`` over the calls the lease's replicas took in that
UTC hour (failed ones included). Meeting a target at percentile ``p`` (the request's
``percentile``, e.g. 95) means ``attainment >= p / 100``: that is exactly "the p-th
percentile of TTFT (and TPOT) is within target", counted call by call, with no histogram.

**Credit rule** (published in the README): an hour whose attainment is below ``p / 100``
refunds the buyer :data:`MISS_CREDIT_BPS` (10 %) of that hour's rent; below
:data:`SEVERE_BELOW` (50 %) it refunds :data:`SEVERE_CREDIT_BPS` (30 %). Hours without
calls earn nothing (nothing was measured). Rent of an hour is the lease's GPUs x price x
the part of the hour the lease was active, in whole fen (rounded down); the credit is
rounded down to whole fen. It is posted in the double-entry ledger as a transfer from the
seller's account to the buyer's.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.errors import InvalidRequest
from suanli.market.ledger import Transaction, transfer

MISS_CREDIT_BPS = 1_000
SEVERE_CREDIT_BPS = 3_000
SEVERE_BELOW = 0.5


@dataclass(frozen=True, slots=True)
class Targets:
    """What the buyer asked for: TTFT and TPOT in ms, met at ``percentile`` (50-99.99)."""

    ttft_ms: float
    tpot_ms: float
    percentile: float = 95.0

    def __post_init__(self) -> None:
        if not (self.ttft_ms > 0 and self.tpot_ms > 0):
            raise InvalidRequest("SLO targets must be > 0 ms", field="ttft_ms")
        if not 0 < self.percentile < 100:
            raise InvalidRequest("percentile must be in (0, 100)", field="percentile")

    @property
    def fraction(self) -> float:
        return self.percentile / 100.0


@dataclass(frozen=True, slots=True)
class CallVerdict:
    ttft_ok: bool
    tpot_ok: bool

    @property
    def ok(self) -> bool:
        return self.ttft_ok and self.tpot_ok


def tpot_ms(ttft_ms: float, e2e_ms: float, output_tokens: int) -> float:
    """Time per output token after the first (0 for answers of at most one token)."""
    if output_tokens <= 1:
        return 0.0
    return max(0.0, e2e_ms - ttft_ms) / (output_tokens - 1)


def judge_call(
    targets: Targets,
    *,
    streamed: bool,
    failed: bool,
    ttft_ms: float,
    e2e_ms: float,
    output_tokens: int,
) -> CallVerdict:
    """Whether one call met each target (see the module docstring)."""
    if failed:
        return CallVerdict(False, False)
    if not streamed:
        ok = e2e_ms <= targets.ttft_ms + max(0, output_tokens - 1) * targets.tpot_ms
        return CallVerdict(ok, ok)
    return CallVerdict(
        ttft_ms <= targets.ttft_ms, tpot_ms(ttft_ms, e2e_ms, output_tokens) <= targets.tpot_ms
    )


def credit_bps(calls: int, ok: int, targets: Targets) -> int:
    """The share of the hour's rent refunded, in basis points."""
    if calls < 0 or not 0 <= ok <= calls:
        raise InvalidRequest(f"bad counts: {ok} ok of {calls} calls", field="calls")
    if calls == 0:
        return 0
    attainment = ok / calls
    if attainment >= targets.fraction:
        return 0
    return SEVERE_CREDIT_BPS if attainment < SEVERE_BELOW else MISS_CREDIT_BPS


def rent_fen(gpus: int, price_cny_per_gpu_hour: float, active_s: float) -> int:
    """Rent of ``active_s`` seconds (at most one hour) of ``gpus`` GPUs, in whole fen."""
    if not 0 <= active_s <= 3600:
        raise InvalidRequest("active seconds in an hour must be in [0, 3600]", field="active_s")
    return int(gpus * price_cny_per_gpu_hour * 100 * active_s // 3600)


def credit_fen(rent: int, calls: int, ok: int, targets: Targets) -> int:
    return rent * credit_bps(calls, ok, targets) // 10_000


def credit_transaction(
    *, lease_id: int, hour_h: int, buyer: str, seller: str, amount_fen: int
) -> Transaction:
    """The ledger posting of an SLO credit: seller pays it back to the buyer."""
    return transfer(
        f"slo-{lease_id}-{hour_h}",
        float(hour_h),
        f"SLO credit, lease {lease_id}, hour {hour_h}",
        f"seller:{seller}",
        f"buyer:{buyer}",
        amount_fen,
    )
