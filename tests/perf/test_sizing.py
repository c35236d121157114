"""Sizing a serving request: invariants, brute force and the errors a bad request gets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suanli import catalog
from suanli.catalog.models import model
from suanli.catalog.traces import Trace, builtin_trace
from suanli.errors import Infeasible, InvalidRequest, NotFound
from suanli.perf import decode_step
from suanli.perf.queueing import effective_tpot_s
from suanli.perf.sizing import (
    MAX_BATCH,
    Candidate,
    Config,
    ServeRequest,
    Sizing,
    size,
)
from suanli.perf.workload import workload_from_means

PRICES = catalog.reference_prices()
SOME_GPUS = [catalog.gpu(n) for n in ("H100-SXM", "H20", "L20", "A800-SXM-80GB")]


def _request(**changes: object) -> ServeRequest:
    base: dict[str, object] = dict(
        model="qwen2.5-32b",
        rate_per_s=40.0,
        prompt_tokens=1000,
        output_tokens=300,
        ttft_ms=800.0,
        tpot_ms=50.0,
    )
    base.update(changes)
    return ServeRequest(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def example() -> Sizing:
    return size(_request(), catalog.gpus(), PRICES)


def test_configs_meet_targets_and_costs_add_up(example: Sizing) -> None:
    sizing = example
    assert sizing.configs, "the issue's example request must be servable"
    costs = [c.cost_cny_per_hour for c in sizing.configs]
    assert costs == sorted(costs)
    assert sizing.best is sizing.configs[0]
    for c in sizing.configs:
        assert c.gpus == c.replicas * c.tp == c.replicas * c.gpus_per_replica
        assert c.cost_cny_per_hour == pytest.approx(c.gpus * PRICES[c.gpu])
        tokens_per_hour = 40.0 * 300 * 3600
        assert c.cost_cny_per_million_output_tokens == pytest.approx(
            c.cost_cny_per_hour / tokens_per_hour * 1e6
        )
        assert c.ttft_ms <= 800.0 + 1e-6
        assert c.tpot_ms <= 50.0 + 1e-6
        assert 1 <= c.max_batch <= MAX_BATCH
        assert c.utilisation <= 0.8 + 1e-9  # headroom 0.2
        assert c.replicas * c.throughput_rps_per_replica * 0.8 >= 40.0 - 1e-6


def test_types_without_a_price_or_a_fit_are_rejected_with_reasons(example: Sizing) -> None:
    unpriced = {k: v for k, v in PRICES.items() if k != "B200"}
    sized = size(_request(), [*SOME_GPUS, catalog.gpu("B200")], unpriced, heterogeneous=False)
    assert sized.rejected_types()["B200"] == "no price for B200"
    for gpu, tp, reason in example.rejected:
        assert gpu and tp in (1, 2, 4, 8) and reason


def test_does_not_fit_says_by_how_much() -> None:
    sizing = size(
        _request(model="llama-3.1-70b", rate_per_s=1.0), [catalog.gpu("RTX-4090")], PRICES
    )
    tp1 = next(r for r in sizing.rejected if r.tp == 1)
    assert tp1.reason.startswith("does not fit: needs ")
    assert "GB more" in tp1.reason


def test_prefill_bound_reason_names_the_gpu() -> None:
    sizing = size(
        _request(prompt_tokens=8000, ttft_ms=600.0, rate_per_s=2.0), [catalog.gpu("L20")], PRICES
    )
    assert not sizing.configs
    reason = sizing.rejected_types()["L20"]
    assert "prefill-bound on L20" in reason and "> 600 ms" in reason


def test_tpot_even_at_batch_one() -> None:
    # 20 ms is above the fastest configuration's floor but beyond what A800 TP=1 can do.
    sizing = size(_request(tpot_ms=20.0), [catalog.gpu("A800"), catalog.gpu("H100")], PRICES)
    a800_tp1 = next(r for r in sizing.rejected if r.gpu == "A800-SXM-80GB" and r.tp == 1)
    assert "even at batch 1" in a800_tp1.reason and "> 20 ms" in a800_tp1.reason


def test_fp8_on_a_gpu_without_it_is_a_rejection_not_a_crash() -> None:
    sizing = size(_request(precision="fp8"), [catalog.gpu("A100"), catalog.gpu("H100")], PRICES)
    assert {c.gpu for c in sizing.configs} == {"H100-SXM"}
    assert "FP8" in sizing.rejected_types()["A100-SXM-80GB"]


@pytest.mark.parametrize("gpu_name", ["H100-SXM", "H20", "L20"])
def test_more_rate_never_fewer_replicas(gpu_name: str) -> None:
    gpus = [catalog.gpu(gpu_name)]
    previous: dict[int, int] = {}
    for rate in (0.5, 2.0, 5.0, 11.0, 23.0, 40.0, 80.0, 150.0):
        sizing = size(_request(rate_per_s=rate), gpus, PRICES)
        for c in sizing.configs:
            assert c.replicas >= previous.get(c.tp, 0)
            previous[c.tp] = c.replicas


def test_tighter_tpot_never_larger_max_batch() -> None:
    gpus = [catalog.gpu("H100-SXM"), catalog.gpu("H20")]
    previous: dict[tuple[str, int], int] = {}
    for tpot in (120.0, 80.0, 60.0, 45.0, 35.0, 28.0, 22.0):
        sizing = size(_request(tpot_ms=tpot, rate_per_s=5.0), gpus, PRICES)
        batches = {(c.gpu, c.tp): c.max_batch for c in sizing.configs}
        for key, batch in batches.items():
            if key in previous:
                assert batch <= previous[key]
        # A (gpu, tp) that drops out has max batch 0: never larger either.
        previous = batches


def test_max_batch_matches_a_linear_scan() -> None:
    arch, gpu = model("qwen2.5-7b"), catalog.gpu("L40S")
    work = workload_from_means(800, 200)
    cand = Candidate(arch, gpu, 1, work, precision="bf16", tpot_target_ms=40.0)
    assert cand.rejection is None
    pf = cand.prefill_mean_s

    def tpot(b: int) -> float:
        step = decode_step(arch, gpu, batch=b, context=work.decode_context).step_ms / 1e3
        return effective_tpot_s(
            max_batch=b, step_s=step, prefill_mean_s=pf, decode_tokens_mean=work.decode_tokens_mean
        )

    scan = [b for b in range(1, 400) if tpot(b) <= 0.040]
    assert cand.max_batch == max(scan)


def test_ttft_is_never_below_the_bare_prefill(example: Sizing) -> None:
    for c in example.configs:
        assert c.ttft_ms >= c.prefill_ms * 0.999
        assert c.queue_ms >= 0


def test_trace_uses_the_distribution() -> None:
    trace = builtin_trace("azure-conv")
    sizing = size(
        _request(trace=trace, prompt_tokens=None, output_tokens=None), catalog.gpus(), PRICES
    )
    w = sizing.workload
    assert w.source == "azure-conv" and w.requests == trace.size
    assert w.prompt_mean == pytest.approx(float(np.maximum(trace.prompt_tokens, 1).mean()))
    assert w.prompt_at_percentile > w.prompt_mean  # long tail
    assert w.decode_tokens_var > 0
    assert sizing.best is not None
    gpus_seen = {c.gpu for c in sizing.configs} | set(sizing.rejected_types())
    assert gpus_seen == {g.name for g in catalog.gpus()}
    # The heavier tail costs more than fixed lengths at the same means.
    fixed = size(
        _request(prompt_tokens=round(w.prompt_mean), output_tokens=round(w.output_mean)),
        catalog.gpus(),
        PRICES,
        heterogeneous=False,
    )
    assert fixed.best is not None
    assert sizing.best.cost_cny_per_hour >= fixed.best.cost_cny_per_hour


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate_per_s": -1.0}, "rate_per_s"),
        ({"rate_per_s": 0.0}, "rate_per_s"),
        ({"rate_per_s": math.nan}, "rate_per_s"),
        ({"ttft_ms": 0.0}, "ttft_ms"),
        ({"tpot_ms": -5.0}, "tpot_ms"),
        ({"percentile": 0.0}, "percentile"),
        ({"percentile": 100.0}, "percentile"),
        ({"headroom": 1.0}, "headroom"),
        ({"precision": "fp4"}, "precision"),
        ({"prompt_tokens": None}, "prompt_tokens"),
        ({"output_tokens": None}, "output_tokens"),
        ({"output_tokens": 0}, "output_tokens"),
    ],
)
def test_invalid_requests_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        size(_request(**changes), SOME_GPUS, PRICES)
    assert info.value.field == field
    assert field in info.value.message


def test_unknown_model_is_not_found_with_suggestions() -> None:
    with pytest.raises(NotFound) as info:
        size(_request(model="qwen2.5-33b"), SOME_GPUS, PRICES)
    assert info.value.suggestions


def test_tpot_below_the_physical_floor_is_infeasible() -> None:
    with pytest.raises(Infeasible) as info:
        size(_request(tpot_ms=2.0), SOME_GPUS, PRICES)
    assert info.value.context["field"] == "tpot_ms"
    assert "physical floor" in info.value.message
    assert info.value.context["floor_ms"] > 2.0


def test_empty_trace_and_no_gpus_are_invalid() -> None:
    empty = Trace("empty", np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    with pytest.raises(InvalidRequest):
        size(_request(trace=empty), SOME_GPUS, PRICES)
    with pytest.raises(InvalidRequest) as info:
        size(_request(), [], PRICES)
    assert info.value.field == "gpus"


def test_a_cheaper_price_never_raises_cost(example: Sizing) -> None:
    best = example.best
    assert isinstance(best, Config)
    cheaper = dict(PRICES)
    cheaper[best.gpu] = PRICES[best.gpu] / 2
    again = size(_request(), catalog.gpus(), cheaper, heterogeneous=False)
    assert again.best is not None
    assert again.best.cost_cny_per_hour <= best.cost_cny_per_hour / 2 + 1e-9


def test_network_reserve_leaves_rtt_budget_for_placement() -> None:
    from suanli.catalog import gpu as _gpu
    from suanli.catalog import reference_prices
    from suanli.perf.sizing import ServeRequest, size

    base = ServeRequest(
        model="qwen2.5-7b",
        rate_per_s=20,
        ttft_ms=300,
        tpot_ms=50,
        prompt_tokens=1000,
        output_tokens=200,
    )
    reserved = ServeRequest(
        model="qwen2.5-7b",
        rate_per_s=20,
        ttft_ms=300,
        tpot_ms=50,
        prompt_tokens=1000,
        output_tokens=200,
        network_rtt_ms=60,
    )
    gpus = [_gpu("h100"), _gpu("l40s")]
    sized = size(reserved, gpus, reference_prices(), heterogeneous=False)
    assert sized.configs
    assert all(c.ttft_ms <= 300 - 60 + 1e-6 for c in sized.configs)
    plain = size(base, gpus, reference_prices(), heterogeneous=False)
    # Reserving network time can only ask for as many or more GPUs.
    assert sized.configs[0].gpus >= plain.configs[0].gpus


def test_network_reserve_must_leave_compute_time() -> None:
    import pytest

    from suanli.catalog import gpu as _gpu
    from suanli.errors import InvalidRequest
    from suanli.perf.sizing import ServeRequest, size

    bad = ServeRequest(
        model="qwen2.5-7b",
        rate_per_s=20,
        ttft_ms=300,
        tpot_ms=50,
        prompt_tokens=1000,
        output_tokens=200,
        network_rtt_ms=300,
    )
    with pytest.raises(InvalidRequest, match="network_rtt_ms"):
        size(bad, [_gpu("h100")], {"H100-SXM": 12.8})
