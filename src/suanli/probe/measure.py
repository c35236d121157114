"""Measurements and their time budget, with the NumPy fallback that runs anywhere.

A :class:`Measurement` is one figure (matrix throughput, memory bandwidth, host link, decode
step) with its unit, how it was taken and its spread. The GPU measurements live in
:mod:`suanli.probe.torch_measure`; the NumPy versions here time the same formulas on the
CPU (so the logic is tested where CI runs) and serve as the probe's last resort.

Every routine takes a :class:`Budget` and skips itself, saying so, when the time left is
shorter than it needs: ``--quick`` must end within 60 s and a full run within 5 minutes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Names of the figures a probe reports, with their unit.
FIGURES: dict[str, str] = {
    "bf16_matmul_tflops": "TFLOP/s",
    "fp8_matmul_tflops": "TFLOP/s",
    "hbm_copy_tb_s": "TB/s",
    "h2d_gb_s": "GB/s",
    "d2h_gb_s": "GB/s",
    "p2p_gb_s": "GB/s",
    "decode_step_ms": "ms",
    "fp32_matmul_gflops_cpu": "GFLOP/s",
    "memcpy_gb_s_cpu": "GB/s",
}


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measured figure; ``value`` is None when it was skipped (``skipped`` says why)."""

    name: str
    value: float | None
    unit: str
    method: str = ""
    runs: int = 0
    spread: float = 0.0  # (max - min) / median over the timed runs
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


def skipped(name: str, reason: str) -> Measurement:
    return Measurement(name=name, value=None, unit=FIGURES.get(name, ""), skipped=reason)


class Budget:
    """A deadline on a monotonic clock (injectable for tests)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds

    def left_s(self) -> float:
        return self._deadline - self._clock()

    def allows(self, need_s: float) -> bool:
        return self.left_s() >= need_s


def median_spread(times_s: Sequence[float]) -> tuple[float, float]:
    """Median of the runs and their relative spread (max - min) / median."""
    med = statistics.median(times_s)
    return med, (max(times_s) - min(times_s)) / med if med > 0 else 0.0


def host_times(fn: Callable[[], object], *, warmup: int, runs: int) -> list[float]:
    """Seconds per call of ``fn`` with the host clock, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def numpy_matmul(n: int, budget: Budget, *, runs: int = 5, seed: int = 0) -> Measurement:
    """fp32 GEMM throughput on the CPU: 2 n^3 FLOP per product, median of ``runs``."""
    name = "fp32_matmul_gflops_cpu"
    if not budget.allows(1.0):
        return skipped(name, "time budget")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    med, spread = median_spread(host_times(lambda: a @ b, warmup=1, runs=runs))
    return Measurement(
        name,
        2.0 * n**3 / med / 1e9,
        "GFLOP/s",
        f"NumPy float32 {n}x{n}x{n} matmul, host clock, median of {runs}",
        runs,
        spread,
        {"n": n},
    )


def numpy_copy(mib: int, budget: Budget, *, runs: int = 5, seed: int = 0) -> Measurement:
    """Memory copy bandwidth on the CPU, counting bytes read plus bytes written."""
    name = "memcpy_gb_s_cpu"
    if not budget.allows(1.0):
        return skipped(name, "time budget")
    src = np.random.default_rng(seed).standard_normal(mib * 2**20 // 8)
    dst = np.empty_like(src)
    med, spread = median_spread(host_times(lambda: np.copyto(dst, src), warmup=1, runs=runs))
    return Measurement(
        name,
        2.0 * src.nbytes / med / 1e9,
        "GB/s",
        f"NumPy copy of {mib} MiB (read + write counted), host clock, median of {runs}",
        runs,
        spread,
        {"mib": mib},
    )


def numpy_decode_step(
    *,
    layers: int,
    hidden: int,
    intermediate: int,
    vocab: int,
    batch: int,
    context: int,
    kv_width: int,
    budget: Budget,
    runs: int = 5,
    seed: int = 0,
) -> Measurement:
    """A float32 decode step of a random dense decoder in NumPy (attention over a KV cache,
    gated MLP, LM head): the same structure the GPU probe times, for CPU tests."""
    name = "decode_step_ms"
    if not budget.allows(1.0):
        return skipped(name, "time budget")
    rng = np.random.default_rng(seed)

    def w(*dims: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        return (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(np.float32)

    weights = [
        (
            w(hidden, hidden + 2 * kv_width),
            w(hidden, hidden),
            w(hidden, 2 * intermediate),
            w(intermediate, hidden),
        )
        for _ in range(layers)
    ]
    k_cache = [w(batch, context, kv_width) for _ in range(layers)]
    v_cache = [w(batch, context, kv_width) for _ in range(layers)]
    lm_head = w(hidden, vocab)
    x0 = w(batch, hidden)

    def norm(x: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        scale = np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6).astype(np.float32)
        out: np.ndarray[Any, np.dtype[np.float32]] = x / scale
        return out

    def step() -> np.ndarray[Any, np.dtype[np.float32]]:
        x = x0
        for (wqkv, wo, wgu, wd), kc, vc in zip(weights, k_cache, v_cache, strict=True):
            qkv = norm(x) @ wqkv
            q = qkv[:, :kv_width]  # one query group per KV head keeps the shapes simple
            scores = np.einsum("bd,bcd->bc", q, kc) / np.sqrt(kv_width)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs = scores / scores.sum(axis=1, keepdims=True)
            attn = np.einsum("bc,bcd->bd", probs, vc)
            x = x + np.pad(attn, ((0, 0), (0, hidden - kv_width))) @ wo
            gate, up = np.split(norm(x) @ wgu, 2, axis=1)
            x = x + (gate / (1.0 + np.exp(-gate)) * up) @ wd
        return norm(x) @ lm_head

    med, spread = median_spread(host_times(step, warmup=1, runs=runs))
    weight_bytes = 4 * (sum(sum(m.size for m in layer) for layer in weights) + lm_head.size)
    return Measurement(
        name,
        med * 1e3,
        "ms",
        f"NumPy float32 random decoder, host clock, median of {runs}",
        runs,
        spread,
        {"batch": batch, "context": context, "weight_bytes": weight_bytes, "layers": layers},
    )


def numpy_suite(budget: Budget, *, quick: bool = True) -> list[Measurement]:
    """The CPU fallback: what the probe can say with NumPy alone (no GPU figures)."""
    n = 256 if quick else 1024
    return [
        numpy_matmul(n, budget),
        numpy_copy(16 if quick else 256, budget),
        numpy_decode_step(
            layers=2,
            hidden=128,
            intermediate=256,
            vocab=512,
            batch=2,
            context=64,
            kv_width=32,
            budget=budget,
        ),
    ]
