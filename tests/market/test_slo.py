"""The SLO credit rule: per-call verdicts, hourly shares, rent and the ledger posting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.errors import InvalidRequest
from suanli.market.ledger import Ledger
from suanli.market.slo import (
    Targets,
    credit_bps,
    credit_fen,
    credit_transaction,
    judge_call,
    rent_fen,
)

T = Targets(ttft_ms=500, tpot_ms=50, percentile=95)


def test_streamed_calls_are_judged_on_ttft_and_tpot_separately() -> None:
    ok = judge_call(
        T, streamed=True, failed=False, ttft_ms=500, e2e_ms=500 + 9 * 50, output_tokens=10
    )
    assert ok.ttft_ok and ok.tpot_ok
    slow_start = judge_call(
        T, streamed=True, failed=False, ttft_ms=501, e2e_ms=900, output_tokens=10
    )
    assert not slow_start.ttft_ok and slow_start.tpot_ok
    slow_tokens = judge_call(
        T, streamed=True, failed=False, ttft_ms=100, e2e_ms=100 + 9 * 51, output_tokens=10
    )
    assert slow_tokens.ttft_ok and not slow_tokens.tpot_ok
    one_token = judge_call(
        T, streamed=True, failed=False, ttft_ms=100, e2e_ms=5000, output_tokens=1
    )
    assert one_token.ok


def test_unstreamed_and_failed_calls() -> None:
    assert judge_call(T, streamed=False, failed=False, ttft_ms=950, e2e_ms=950, output_tokens=10).ok
    assert not judge_call(
        T, streamed=False, failed=False, ttft_ms=951, e2e_ms=951, output_tokens=10
    ).ok
    assert not judge_call(T, streamed=True, failed=True, ttft_ms=1, e2e_ms=2, output_tokens=3).ok


def test_credit_tiers() -> None:
    assert credit_bps(0, 0, T) == 0  # nothing measured, nothing owed
    assert credit_bps(100, 95, T) == 0
    assert credit_bps(100, 94, T) == 1000
    assert credit_bps(100, 50, T) == 1000
    assert credit_bps(100, 49, T) == 3000
    with pytest.raises(InvalidRequest):
        credit_bps(10, 11, T)


def test_rent_and_credit_are_whole_fen_rounded_down() -> None:
    assert rent_fen(2, 13.7, 3600) == 2740
    assert rent_fen(1, 13.7, 1800) == 685
    assert rent_fen(1, 0.01, 1) == 0
    assert credit_fen(2740, 100, 90, T) == 274
    with pytest.raises(InvalidRequest):
        rent_fen(1, 1.0, 3601)


@given(st.integers(0, 10**9), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_a_credit_posting_balances_and_moves_money_seller_to_buyer(
    amount: int, buyer: str, seller: str
) -> None:
    tx = credit_transaction(
        lease_id=7, hour_h=490000, buyer=buyer, seller=seller, amount_fen=amount
    )
    ledger = Ledger.of([tx])
    assert ledger.total() == 0
    if buyer != seller:
        assert ledger.balance(f"buyer:{buyer}") == amount
        assert ledger.balance(f"seller:{seller}") == -amount
