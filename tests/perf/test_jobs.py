"""Batch-inference and training job sizing: arithmetic, scaling and fabric needs."""

from __future__ import annotations

import math

import pytest

from suanli import catalog
from suanli.errors import InvalidRequest
from suanli.perf.jobs import (
    TRAINING_BYTES_PER_PARAM,
    USABLE_MEMORY_FRACTION,
    BatchRequest,
    TrainingRequest,
    size_batch,
    size_training,
)

PRICES = catalog.reference_prices()


def _batch(**changes: object) -> BatchRequest:
    base: dict[str, object] = dict(
        model="llama-3.1-8b", requests=100_000, prompt_tokens=1000, output_tokens=200, gpus=8
    )
    base.update(changes)
    return BatchRequest(**base)  # type: ignore[arg-type]


def test_batch_costs_and_times_add_up() -> None:
    unpriced = {k: v for k, v in PRICES.items() if k != "B200"}
    estimates, rejected = size_batch(_batch(deadline_h=2.0), catalog.gpus(), unpriced)
    assert estimates
    assert {r.gpu for r in rejected} >= {"B200"}  # no price
    costs = [e.cost_cny for e in estimates]
    assert costs == sorted(costs)
    for e in estimates:
        assert e.cost_cny == pytest.approx(e.gpu_hours * unpriced[e.gpu])
        assert e.hours == pytest.approx(e.gpu_hours / e.gpus)
        assert e.gpus % e.tp == 0 and e.gpus <= 8
        assert e.gpus_for_deadline is not None and e.gpus_for_deadline % e.tp == 0
        assert e.meets_deadline == (e.hours <= 2.0)
        # The deadline count is enough: its replicas finish within the deadline.
        assert e.gpu_hours / e.gpus_for_deadline <= 2.0 + 1e-9


def test_batch_scales_with_work_and_gpus() -> None:
    h100 = [catalog.gpu("H100")]
    (one,), _ = size_batch(_batch(), h100, PRICES)
    (two,), _ = size_batch(_batch(requests=200_000), h100, PRICES)
    (wide,), _ = size_batch(_batch(gpus=16), h100, PRICES)
    assert two.gpu_hours == pytest.approx(2 * one.gpu_hours)
    assert wide.hours == pytest.approx(one.hours / 2)
    assert wide.gpu_hours == pytest.approx(one.gpu_hours)


def test_batch_of_a_model_too_big_for_the_job_gpus_is_rejected() -> None:
    estimates, rejected = size_batch(
        _batch(model="llama-3.1-70b", gpus=1), [catalog.gpu("RTX-4090")], PRICES
    )
    assert not estimates
    assert any("does not fit" in r.reason or "needs" in r.reason for r in rejected)


def test_training_follows_six_p_t() -> None:
    request = TrainingRequest(params=7e9, tokens=1e11, gpus=8, mfu=0.5)
    (est,), _ = size_training(request, [catalog.gpu("H100")], PRICES)
    flops = 6 * 7e9 * 1e11
    assert est.flops == pytest.approx(flops)
    assert est.gpu_hours == pytest.approx(flops / (989e12 * 0.5) / 3600)
    assert est.hours == pytest.approx(est.gpu_hours / 8)
    assert est.cost_cny == pytest.approx(est.gpu_hours * PRICES["H100-SXM"])


def test_moe_training_counts_active_parameters() -> None:
    from suanli.catalog.models import model

    arch = model("qwen3-30b-a3b")
    (est,), _ = size_training(
        TrainingRequest(model="qwen3-30b-a3b", tokens=1e10, gpus=8),
        [catalog.gpu("H100")],
        PRICES,
    )
    assert est.flops == pytest.approx(6 * arch.active_params * 1e10)
    assert arch.active_params < arch.total_params / 5


def test_training_fabric_and_memory() -> None:
    h100, h800, l40s = catalog.gpu("H100"), catalog.gpu("H800"), catalog.gpu("L40S")
    fabrics = {}
    for n in (1, 8, 64):
        (est,), _ = size_training(TrainingRequest(params=70e9, tokens=1e9, gpus=n), [h100], PRICES)
        fabrics[n] = est.fabric
        assert est.min_gpus_for_memory == math.ceil(
            70e9 * TRAINING_BYTES_PER_PARAM / (80e9 * USABLE_MEMORY_FRACTION)
        )
        assert est.fits == (n >= est.min_gpus_for_memory)
    assert fabrics == {1: "none", 8: "nvlink", 64: "nvlink-ib"}
    estimates, _ = size_training(
        TrainingRequest(params=70e9, tokens=1e9, gpus=64), [h800, l40s, h100], PRICES
    )
    by_gpu = {e.gpu: e for e in estimates}
    assert any("NVLink cut" in n for n in by_gpu["H800-SXM"].notes)
    assert not by_gpu["L40S"].fabric_ok  # a sharded 70B model over PCIe
    assert by_gpu["H100-SXM"].fabric_ok and by_gpu["H800-SXM"].fabric_ok
    assert estimates[-1].gpu == "L40S"  # unsuitable options sort last


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (TrainingRequest(params=7e9, tokens=0, gpus=8), "tokens"),
        (TrainingRequest(params=7e9, tokens=1e9, gpus=0), "gpus"),
        (TrainingRequest(params=7e9, tokens=1e9, gpus=8, mfu=1.5), "mfu"),
        (TrainingRequest(tokens=1e9, gpus=8), "params"),
    ],
)
def test_training_validation(request_: TrainingRequest, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        size_training(request_, [catalog.gpu("H100")], PRICES)
    assert info.value.field == field


def test_batch_validation() -> None:
    with pytest.raises(InvalidRequest) as info:
        size_batch(_batch(requests=0), [catalog.gpu("H100")], PRICES)
    assert info.value.field == "requests"
    with pytest.raises(InvalidRequest) as info:
        size_batch(_batch(deadline_h=-1.0), [catalog.gpu("H100")], PRICES)
    assert info.value.field == "deadline_h"
