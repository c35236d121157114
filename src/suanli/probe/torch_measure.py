"""GPU measurements through PyTorch: bf16/fp8 GEMM throughput, HBM copy bandwidth, host link
bandwidth each way, peer-to-peer bandwidth between GPUs, and a decode step of a small
random-weight transformer replayed as a CUDA graph.

Method (as in the device notes): random data, never zeros; warm-up runs untimed; CUDA events
around each timed run; the median over runs. GEMM operands are larger than the L2 cache, and
the copy moves hundreds of MiB, so caches do not flatter the figures. Bytes of a copy count
read plus write. Works on a CPU device too (host clock), which is how it is smoke-tested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suanli.probe.measure import Budget, Measurement, median_spread, skipped
from suanli.probe.transformer import PROBE_1B, TINY, RandomDecoder, time_callable

MIB = 2**20


def _times_s(
    torch: Any, device: Any, fn: Callable[[], object], warmup: int, runs: int
) -> list[float]:
    timing_runs = []
    if device.type == "cuda":
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize(device)
        pairs = []
        for _ in range(runs):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            pairs.append((start, end))
        torch.cuda.synchronize(device)
        return [a.elapsed_time(b) / 1e3 for a, b in pairs]
    import time

    for _ in range(warmup):
        fn()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        timing_runs.append(time.perf_counter() - t0)
    return timing_runs


def _clock(device: Any) -> str:
    return "CUDA events" if device.type == "cuda" else "host clock"


def matmul(
    torch: Any, device: Any, n: int, budget: Budget, *, runs: int, fp8: bool = False
) -> Measurement:
    """Dense GEMM throughput, 2 n^3 FLOP per product, alternating two operand pairs."""
    name = "fp8_matmul_tflops" if fp8 else "bf16_matmul_tflops"
    if not budget.allows(3.0):
        return skipped(name, "time budget")
    gen = torch.Generator(device=device).manual_seed(1)
    pairs = [
        (
            torch.randn(n, n, device=device, generator=gen, dtype=torch.bfloat16),
            torch.randn(n, n, device=device, generator=gen, dtype=torch.bfloat16),
        )
        for _ in range(2)
    ]
    if fp8:
        if device.type != "cuda" or torch.cuda.get_device_capability(device) < (8, 9):
            return skipped(name, "no FP8 tensor cores")
        scale = torch.ones((), device=device, dtype=torch.float32)
        fp8_pairs = [(a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn).t()) for a, b in pairs]
        state = {"i": 0}

        def run() -> object:
            state["i"] ^= 1
            a, b = fp8_pairs[state["i"]]
            return torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16)

        try:
            run()
        except (RuntimeError, AttributeError, TypeError) as exc:
            return skipped(name, f"torch._scaled_mm failed: {exc}"[:200])
        dtype = "float8_e4m3fn (bf16 out, torch._scaled_mm)"
    else:
        state = {"i": 0}

        def run() -> object:
            state["i"] ^= 1
            a, b = pairs[state["i"]]
            return a @ b

        dtype = "bfloat16"
    times = _times_s(torch, device, run, warmup=3, runs=runs)
    med, spread = median_spread(times)
    return Measurement(
        name,
        2.0 * n**3 / med / 1e12,
        "TFLOP/s",
        f"{dtype} {n}x{n}x{n} GEMM on random data, {_clock(device)}, median of {runs}",
        runs,
        spread,
        {"n": n},
    )


def hbm_copy(torch: Any, device: Any, mib: int, budget: Budget, *, runs: int) -> Measurement:
    """Device-to-device copy bandwidth in TB/s, counting bytes read plus bytes written."""
    name = "hbm_copy_tb_s"
    if not budget.allows(2.0):
        return skipped(name, "time budget")
    elements = mib * MIB // 2
    src = torch.randn(elements, device=device, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    times = _times_s(torch, device, lambda: dst.copy_(src), warmup=3, runs=runs)
    med, spread = median_spread(times)
    return Measurement(
        name,
        2.0 * src.numel() * 2 / med / 1e12,
        "TB/s",
        f"copy of {mib} MiB (read + write counted), {_clock(device)}, median of {runs}",
        runs,
        spread,
        {"mib": mib},
    )


def host_link(
    torch: Any, device: Any, mib: int, budget: Budget, *, runs: int, to_device: bool
) -> Measurement:
    """Pinned host memory to the GPU (or back), one direction at a time, in GB/s."""
    name = "h2d_gb_s" if to_device else "d2h_gb_s"
    if device.type != "cuda":
        return skipped(name, "no GPU")
    if not budget.allows(2.0):
        return skipped(name, "time budget")
    host = torch.randn(mib * MIB // 4, dtype=torch.float32).pin_memory()
    dev = torch.empty(host.shape, device=device, dtype=torch.float32)
    if to_device:

        def run() -> object:
            return dev.copy_(host, non_blocking=True)

    else:

        def run() -> object:
            return host.copy_(dev, non_blocking=True)

    times = _times_s(torch, device, run, warmup=2, runs=runs)
    med, spread = median_spread(times)
    way = "host to device" if to_device else "device to host"
    return Measurement(
        name,
        host.numel() * 4 / med / 1e9,
        "GB/s",
        f"{way}, {mib} MiB pinned, CUDA events, median of {runs}",
        runs,
        spread,
        {"mib": mib},
    )


def peer_copy(
    torch: Any, source: int, target: int, mib: int, budget: Budget, *, runs: int
) -> Measurement:
    """GPU-to-GPU copy bandwidth, one direction, in GB/s (NVLink or PCIe, whichever links them)."""
    name = "p2p_gb_s"
    if not budget.allows(2.0):
        return skipped(name, "time budget")
    src_dev = torch.device(f"cuda:{source}")
    dst_dev = torch.device(f"cuda:{target}")
    torch.cuda.set_device(src_dev)
    peer = bool(torch.cuda.can_device_access_peer(source, target))
    src = torch.randn(mib * MIB // 4, device=src_dev, dtype=torch.float32)
    dst = torch.empty(src.shape, device=dst_dev, dtype=torch.float32)
    times = _times_s(torch, src_dev, lambda: dst.copy_(src, non_blocking=True), warmup=2, runs=runs)
    med, spread = median_spread(times)
    return Measurement(
        name,
        src.numel() * 4 / med / 1e9,
        "GB/s",
        f"cuda:{source} -> cuda:{target}, {mib} MiB, CUDA events, median of {runs}",
        runs,
        spread,
        {"source": source, "target": target, "peer_access": peer},
    )


def decode_step(
    torch: Any, device: Any, budget: Budget, *, batch: int, context: int, runs: int, tiny: bool
) -> Measurement:
    """Decode step of a random-weight ~1.2 B-parameter decoder (CUDA graph on a GPU)."""
    name = "decode_step_ms"
    if not budget.allows(8.0):
        return skipped(name, "time budget")
    shape = TINY if tiny else PROBE_1B
    with torch.inference_mode():
        model = RandomDecoder(shape, device=str(device))
        cache = model.new_cache(batch, context)
        _tokens, step = model.decode_fn(batch, context, cache)
        timing = time_callable(
            torch, step, device=device, warmup=3, runs=runs, graph=device.type == "cuda"
        )
    weight_bytes = shape.params * 2
    kv_bytes = batch * context * shape.kv_bytes_per_token()
    del model, cache, step
    return Measurement(
        name,
        timing.median_ms,
        "ms",
        f"random-weight {shape.name} ({shape.params / 1e9:.2f} B params, bf16), {timing.method}",
        timing.runs,
        (timing.max_ms - timing.min_ms) / timing.median_ms if timing.median_ms else 0.0,
        {
            "model": shape.name,
            "batch": batch,
            "context": context,
            "weight_bytes": weight_bytes,
            "kv_bytes": kv_bytes,
        },
    )


def safely(torch: Any, device: Any, name: str, fn: Callable[[], Measurement]) -> Measurement:
    """Run one measurement; an exception becomes a skipped figure naming the error, so one
    failing routine (an old driver without FP8 GEMMs, pinned memory refused) costs only it."""
    try:
        return fn()
    except Exception as exc:
        if device.type == "cuda":
            try:
                torch.cuda.synchronize(device)
                torch.cuda.empty_cache()
            except Exception:
                pass
        return skipped(name, f"{type(exc).__name__}: {exc}"[:300])


def gpu_suite(
    torch: Any, index: int, budget: Budget, *, quick: bool, tiny: bool = False
) -> list[Measurement]:
    """All single-GPU measurements of device ``index`` (``-1``: the CPU, for smoke tests)."""
    device = torch.device("cpu") if index < 0 else torch.device(f"cuda:{index}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    n = 256 if tiny else (4096 if quick else 8192)
    copy_mib = 8 if tiny else (512 if quick else 2048)
    link_mib = 8 if tiny else (256 if quick else 1024)
    runs = 5 if tiny else (10 if quick else 30)
    plan: list[tuple[str, Callable[[], Measurement]]] = [
        ("bf16_matmul_tflops", lambda: matmul(torch, device, n, budget, runs=runs)),
        ("fp8_matmul_tflops", lambda: matmul(torch, device, n, budget, runs=runs, fp8=True)),
        ("hbm_copy_tb_s", lambda: hbm_copy(torch, device, copy_mib, budget, runs=runs)),
        (
            "h2d_gb_s",
            lambda: host_link(torch, device, link_mib, budget, runs=runs, to_device=True),
        ),
        (
            "d2h_gb_s",
            lambda: host_link(torch, device, link_mib, budget, runs=runs, to_device=False),
        ),
        (
            "decode_step_ms",
            lambda: decode_step(
                torch, device, budget, batch=1, context=64 if tiny else 1024, runs=runs, tiny=tiny
            ),
        ),
    ]
    results = [safely(torch, device, name, fn) for name, fn in plan]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
    return results
