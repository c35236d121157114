"""The NumPy measurements and the time budget (the GPU routines share these helpers)."""

from __future__ import annotations

from suanli.probe.measure import (
    Budget,
    median_spread,
    numpy_copy,
    numpy_decode_step,
    numpy_matmul,
    numpy_suite,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_counts_down_on_its_clock() -> None:
    clock = FakeClock()
    budget = Budget(60.0, clock)
    assert budget.allows(59.0)
    clock.now = 58.0
    assert budget.left_s() == 2.0
    assert not budget.allows(3.0)


def test_an_exhausted_budget_skips_every_measurement() -> None:
    clock = FakeClock()
    budget = Budget(10.0, clock)
    clock.now = 10.0
    results = numpy_suite(budget)
    assert [m.value for m in results] == [None, None, None]
    assert {m.skipped for m in results} == {"time budget"}


def test_numpy_figures_are_positive_and_described() -> None:
    budget = Budget(30.0)
    mm = numpy_matmul(64, budget, runs=3)
    cp = numpy_copy(1, budget, runs=3)
    assert mm.value and mm.value > 0 and mm.unit == "GFLOP/s" and mm.runs == 3
    assert cp.value and cp.value > 0 and "read + write" in cp.method


def test_numpy_decode_step_reports_its_bytes() -> None:
    m = numpy_decode_step(
        layers=2,
        hidden=32,
        intermediate=64,
        vocab=128,
        batch=2,
        context=16,
        kv_width=8,
        budget=Budget(30.0),
        runs=2,
    )
    assert m.value is not None and m.value > 0
    per_layer = 32 * (32 + 16) + 32 * 32 + 32 * 128 + 64 * 32
    assert m.detail["weight_bytes"] == 4 * (2 * per_layer + 32 * 128)


def test_median_and_spread() -> None:
    assert median_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert median_spread([0.0, 0.0]) == (0.0, 0.0)
