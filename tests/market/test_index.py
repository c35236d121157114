"""Price index: trimmed weighted mean, no mixing of pricing types or GPU variants, staleness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suanli.bench.market import naive_clear_volume, synthetic_book
from suanli.cli.main import app
from suanli.market import Fill, instrument, price_index, trimmed_mean
from suanli.market.clearing import clear


def _fill(i: int, gpu: str, pricing: str, price_fen: int, gpus: int, at_h: float,
          hub: str = "zhongwei") -> Fill:  # fmt: skip
    inst = instrument(gpu, hub, pricing, 0, 2)
    return Fill(f"f{i}", inst, "b", "a", "B", "S", gpus, price_fen, at_h)


def test_trimmed_mean_cuts_outliers_by_weight() -> None:
    prices = np.array([1.0, 10.0, 10.0, 10.0, 1000.0])
    weights = np.array([1.0, 3.0, 3.0, 2.0, 1.0])
    assert trimmed_mean(prices, weights, 0.1) == pytest.approx(10.0)
    assert trimmed_mean(prices, weights, 0.0) == pytest.approx(prices @ weights / weights.sum())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 100), st.floats(0.1, 50)), min_size=1, max_size=20))
def test_trimmed_mean_lies_within_the_prices(rows: list[tuple[float, float]]) -> None:
    p = np.array([r[0] for r in rows])
    w = np.array([r[1] for r in rows])
    value = trimmed_mean(p, w)
    assert p.min() - 1e-9 <= value <= p.max() + 1e-9


def test_index_never_mixes_pricing_or_variants() -> None:
    fills = [
        _fill(0, "H100-SXM", "on-demand", 1000, 8, 0.5),
        _fill(1, "H100-SXM", "interruptible", 400, 8, 0.5),
        _fill(2, "H100-PCIe", "on-demand", 700, 8, 0.5),
        _fill(3, "H100-SXM", "on-demand", 1200, 8, 0.7, hub="wuhu"),
    ]
    sxm = price_index(fills, gpu="H100")
    assert [p.cny_per_gpu_hour for p in sxm] == [pytest.approx(11.0)]
    assert sxm[0].gpu_hours == 32 and sxm[0].fills == 2
    west = price_index(fills, gpu="H100", hub="west")
    assert west[0].cny_per_gpu_hour == 10.0
    spot = price_index(fills, gpu="H100", pricing="interruptible")
    assert spot[0].cny_per_gpu_hour == 4.0
    assert price_index(fills, gpu="H100-PCIe")[0].cny_per_gpu_hour == 7.0


def test_staleness_carries_forward_then_gaps() -> None:
    fills = [_fill(0, "H20", "on-demand", 500, 4, 0.5), _fill(1, "H20", "on-demand", 600, 4, 9.5)]
    points = price_index(fills, gpu="H20", now_h=9.9, staleness_h=3)
    starts = [p.start_h for p in points]
    assert starts == [0.0, 1.0, 2.0, 9.0]  # carried to hour 2 (age <= 3 h), then a gap
    assert [p.stale for p in points] == [False, True, True, False]
    daily = price_index(fills, gpu="H20", period="day", now_h=9.9)
    assert len(daily) == 1 and daily[0].fills == 2 and daily[0].cny_per_gpu_hour == 5.5


def test_bad_index_queries() -> None:
    from suanli.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        price_index([], gpu="H100", period="week")
    with pytest.raises(InvalidRequest):
        price_index([], gpu="nonsense-gpu")
    assert price_index([], gpu="H100") == []


def test_index_cli_json_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    runner = CliRunner()
    result = runner.invoke(app, ["index", "--gpu", "H100", "--hub", "west", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["gpu"] == "H100-SXM" and doc["points"] == []
    bad = runner.invoke(app, ["index", "--gpu", "Z9000"])
    assert bad.exit_code == 2


def test_bench_baseline_agrees_with_clearing() -> None:
    book = synthetic_book(2000, seed=3, aon_share=0.0)
    assert naive_clear_volume(book) == clear(book).volume_gpus
