"""The queueing formulas against brute-force simulations of the same queues."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.perf.queueing import (
    NO_WAIT,
    ReplicaLoad,
    WaitTail,
    effective_tpot_s,
    erlang_c,
    mgc_wait,
    prefill_wait,
    quantile_of_sum,
    replica_capacity_rps,
    simulate_mgc_wait,
    simulate_replica,
    ttft,
)


def _poisson(rate: float, n: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, n))


def test_erlang_c_known_values() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    assert erlang_c(4, 0.0) == 0.0
    assert erlang_c(4, 4.0) == 1.0
    # Stable for many servers; more servers at the same utilisation wait less.
    assert 0 < erlang_c(1000, 900.0) < erlang_c(100, 90.0) < erlang_c(10, 9.0) < 1


@pytest.mark.parametrize("servers", [1, 4])
def test_mmc_wait_matches_simulation(servers: int) -> None:
    rate, service = 0.8 * servers, 1.0
    n = 60_000
    arrivals = _poisson(rate, n, seed=servers)
    services = np.random.default_rng(7).exponential(service, n)
    waits = simulate_mgc_wait(arrivals, services, servers)[n // 10 :]
    est = mgc_wait(
        arrival_rate_per_s=rate, mean_service_s=service, service_scv=1.0, servers=servers
    )
    assert est.mean_s == pytest.approx(float(waits.mean()), rel=0.12)
    assert est.p_wait == pytest.approx(float((waits > 0).mean()), rel=0.08)
    p95 = float(np.quantile(waits, 0.95))
    assert quantile_of_sum(est, NO_WAIT, np.zeros(1), np.ones(1), 0.95) == pytest.approx(
        p95, rel=0.12
    )


def test_mdc_wait_allen_cunneen_within_tolerance() -> None:
    servers, rate = 8, 6.4
    n = 60_000
    waits = simulate_mgc_wait(_poisson(rate, n, seed=3), np.ones(n), servers)[n // 10 :]
    est = mgc_wait(arrival_rate_per_s=rate, mean_service_s=1.0, service_scv=0.0, servers=servers)
    assert est.mean_s == pytest.approx(float(waits.mean()), rel=0.2)


def test_prefill_wait_is_pollaczek_khinchine_without_decode() -> None:
    rate, service = 6.0, 0.1  # rho = 0.6, deterministic prefills
    n = 60_000
    waits = simulate_mgc_wait(_poisson(rate, n, seed=5), np.full(n, service), 1)[n // 10 :]
    est = prefill_wait(
        arrival_rate_per_s=rate,
        prefill_mean_s=service,
        prefill_second_moment_s2=service**2,
        decode_busy_fraction=0.0,
        step_s=0.03,
    )
    assert est.mean_s == pytest.approx(rate * service**2 / (2 * (1 - 0.6)))
    assert est.mean_s == pytest.approx(float(waits.mean()), rel=0.1)


def test_quantile_of_sum_matches_monte_carlo() -> None:
    rng = np.random.default_rng(11)
    a, b = WaitTail(0.3, 0.2), WaitTail(0.6, 0.05)
    samples, weights = np.array([0.05, 0.1, 0.4]), np.array([0.5, 0.3, 0.2])
    n = 400_000
    wa = np.where(rng.random(n) < a.p_wait, rng.exponential(a.conditional_mean_s, n), 0.0)
    wb = np.where(rng.random(n) < b.p_wait, rng.exponential(b.conditional_mean_s, n), 0.0)
    s = rng.choice(samples, size=n, p=weights)
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = quantile_of_sum(a, b, samples, weights, q)
        assert exact == pytest.approx(float(np.quantile(wa + wb + s, q)), rel=0.02)


def _replica_case(
    utilisation: float, batch: int, varied: bool, seed: int = 1
) -> tuple[ReplicaLoad, np.ndarray, np.ndarray, np.ndarray]:
    """A replica at ``utilisation`` of capacity, with fixed or trace-like varied lengths."""
    rng = np.random.default_rng(seed)
    n, step = 20_000, 0.03
    if varied:
        prefill = rng.lognormal(np.log(0.1), 0.6, n)
        output = np.maximum(1, rng.geometric(1 / 200, n)).astype(np.int64)
    else:
        prefill = np.full(n, 0.1)
        output = np.full(n, 200, dtype=np.int64)
    bins = (np.arange(100) + 0.5) / 100
    load = ReplicaLoad(
        arrival_rate_per_s=1.0,
        max_batch=batch,
        step_s=step,
        prefill_s=np.quantile(prefill, bins),
        weights=np.ones(100),
        decode_tokens_mean=float(np.mean(output - 1)),
        decode_tokens_var=float(np.var(output - 1)),
    )
    capacity = replica_capacity_rps(
        max_batch=batch,
        step_s=step,
        prefill_mean_s=load.prefill_mean_s,
        decode_tokens_mean=load.decode_tokens_mean,
    )
    rate = utilisation * capacity
    load = ReplicaLoad(
        rate,
        batch,
        step,
        load.prefill_s,
        load.weights,
        load.decode_tokens_mean,
        load.decode_tokens_var,
    )
    return load, _poisson(rate, n, seed), prefill, output


@pytest.mark.parametrize(
    ("utilisation", "batch", "varied"),
    [
        (0.5, 16, False),
        (0.8, 4, False),
        (0.8, 16, False),
        (0.8, 64, False),
        (0.5, 64, True),
        (0.8, 16, True),
        (0.7, 64, True),
    ],
)
def test_ttft_matches_scheduler_simulation(utilisation: float, batch: int, varied: bool) -> None:
    load, arrivals, prefill, output = _replica_case(utilisation, batch, varied)
    sim = simulate_replica(arrivals, prefill, output, step_s=load.step_s, max_batch=batch)
    measured = sim.ttft_s[arrivals.size // 10 :]
    est = ttft(load, 0.95)
    # The analytic model is an approximation; these bounds are what it achieves here.
    assert est.quantile_s == pytest.approx(float(np.quantile(measured, 0.95)), rel=0.35)
    assert est.mean_s == pytest.approx(float(measured.mean()), rel=0.35)


@pytest.mark.parametrize("batch", [4, 64])
def test_effective_tpot_is_a_close_upper_bound(batch: int) -> None:
    load, arrivals, prefill, output = _replica_case(0.8, batch, varied=False)
    sim = simulate_replica(arrivals, prefill, output, step_s=load.step_s, max_batch=batch)
    measured = float(np.nanmean(sim.tpot_s[arrivals.size // 10 :]))
    bound = effective_tpot_s(
        max_batch=batch,
        step_s=load.step_s,
        prefill_mean_s=load.prefill_mean_s,
        decode_tokens_mean=load.decode_tokens_mean,
    )
    assert measured <= bound * 1.01
    assert bound <= measured * 1.25


def test_capacity_is_what_a_saturated_replica_completes() -> None:
    load, arrivals, prefill, output = _replica_case(1.5, 16, varied=False)  # overloaded
    sim = simulate_replica(arrivals, prefill, output, step_s=load.step_s, max_batch=16)
    capacity = load.arrival_rate_per_s / 1.5
    # Work done per second of busy time, counted as requests: within a few percent of X.
    done_per_s = arrivals.size / sim.busy_s
    assert done_per_s == pytest.approx(capacity, rel=0.05)


def test_ttft_grows_with_load_and_diverges_past_capacity() -> None:
    base, _, _, _ = _replica_case(0.5, 16, varied=True)
    capacity = base.arrival_rate_per_s / 0.5
    previous = 0.0
    for u in (0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95):
        load = ReplicaLoad(
            u * capacity,
            base.max_batch,
            base.step_s,
            base.prefill_s,
            base.weights,
            base.decode_tokens_mean,
            base.decode_tokens_var,
        )
        q = ttft(load, 0.95).quantile_s
        assert q >= previous
        previous = q
    over = ReplicaLoad(
        1.2 * capacity,
        base.max_batch,
        base.step_s,
        base.prefill_s,
        base.weights,
        base.decode_tokens_mean,
        base.decode_tokens_var,
    )
    assert not ttft(over, 0.95).stable


def test_heavy_tailed_prefill_wait_tail_matches_simulation() -> None:
    rng = np.random.default_rng(21)
    n, rate = 80_000, 5.0
    service = rng.lognormal(np.log(0.06), 1.0, n)  # heavy tail: SCV of the service ~1.7
    waits = simulate_mgc_wait(_poisson(rate, n, seed=22), service, 1)[n // 10 :]
    est = prefill_wait(
        arrival_rate_per_s=rate,
        prefill_mean_s=float(service.mean()),
        prefill_second_moment_s2=float(np.mean(service**2)),
        prefill_third_moment_s3=float(np.mean(service**3)),
        decode_busy_fraction=0.0,
        step_s=0.03,
    )
    assert est.conditional_scv > 1.0
    assert est.mean_s == pytest.approx(float(waits.mean()), rel=0.15)
    for q in (0.9, 0.95, 0.99):
        model_q = quantile_of_sum(est, NO_WAIT, np.zeros(1), np.ones(1), q)
        assert model_q == pytest.approx(float(np.quantile(waits, q)), rel=0.2)
