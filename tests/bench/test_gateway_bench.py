"""``suanli bench gateway`` runs end to end on a small load (figures are not asserted:
tests never assert wall-clock times)."""

from __future__ import annotations

import pytest

from suanli.bench.gateway import run

pytestmark = pytest.mark.slow


def test_bench_gateway_measures_both_phases_and_the_overhead() -> None:
    doc = run(
        concurrency=4,
        duration_s=1.0,
        warmup_s=0.3,
        model="Qwen2.5-7B",
        gpu="H100",
        tp=1,
        prompt_words=20,
        max_tokens=3,
    )
    for phase in ("direct", "gateway"):
        assert doc[phase]["calls"] > 0 and doc[phase]["failed"] == 0
        assert doc[phase]["ttft_ms"]["p50"] > 0
    assert doc["overhead_ms"]["samples"] == doc["gateway"]["calls"]
    assert set(doc["gateway"]["cpu_ms_per_call"]) == {"gateway", "replica", "load_generator"}
