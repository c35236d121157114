"""Measure decode step and prefill times of random-weight Llama-3.1-8B and Qwen2.5-32B shapes
on this machine's first GPU, to calibrate ``suanli.perf``.

Decode: one CUDA graph per (batch, context) point over a static KV cache holding ``context``
tokens (the new token is written at position context - 1), median of 20 replays timed with
CUDA events after 3 warm-up replays. Prefill: batch 1, causal attention over the prompt,
logits for the last token only, median of 5 runs after 1 warm-up, CUDA events. Points whose
KV cache does not fit in the free memory are skipped and listed on stderr and in the log.

Usage (on the device machine, from the repository root):
    PYTHONPATH=src python3 benchmarks/device/calibrate.py --out $OUT/measured_h200.json
    PYTHONPATH=src python3 benchmarks/device/calibrate.py --smoke --out /tmp/smoke.json  # CPU
Writes a JSON list of {"model","gpu","kind","batch","context","tp","precision",
"measured_ms","method",...}, rewritten after every point so a killed run keeps what it did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from suanli.catalog import gpus
from suanli.probe.identify import match_name
from suanli.probe.transformer import (
    LLAMA_3_1_8B,
    QWEN_2_5_32B,
    TINY,
    RandomDecoder,
    Shape,
    import_torch,
    time_callable,
)

GIB = 2**30

PLAN: list[tuple[Shape, list[tuple[int, int]], list[int]]] = [
    (
        LLAMA_3_1_8B,
        [(b, c) for b in (1, 8, 32, 64, 128) for c in (512, 2048, 8192)],
        [512, 2048, 8192],
    ),
    (QWEN_2_5_32B, [(b, c) for b in (1, 16, 64) for c in (1024, 4096)], [512, 2048]),
]
SMOKE_PLAN: list[tuple[Shape, list[tuple[int, int]], list[int]]] = [
    (TINY, [(1, 16), (4, 32)], [16, 32]),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gpu_label(torch: Any, device: Any) -> str:
    if device.type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name(device)
    match = match_name(name, gpus())
    return match.name if match else name


def fits(torch: Any, device: Any, need_bytes: float) -> tuple[bool, float]:
    if device.type != "cuda":
        return True, 0.0
    free, _total = torch.cuda.mem_get_info(device)
    return need_bytes < free, free / GIB


def release(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def run(args: argparse.Namespace) -> int:
    torch = import_torch()
    device = torch.device("cuda:0" if torch.cuda.is_available() and not args.cpu else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.backends.cuda.matmul.allow_tf32 = False
    label = gpu_label(torch, device)
    plan = SMOKE_PLAN if args.smoke else PLAN
    deadline = time.monotonic() + args.budget_s
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    out = Path(args.out)
    log_path = out.with_name(out.stem + "_log.json")

    def save() -> None:
        out.write_text(json.dumps(results, indent=1))
        log_path.write_text(json.dumps({"gpu": label, "skipped": skipped}, indent=1))

    for shape, decode_points, prefill_points in plan:
        if time.monotonic() > deadline:
            skipped.append({"model": shape.name, "reason": "time budget"})
            continue
        weight_gib = shape.params * 2 / GIB
        ok, free_gib = fits(torch, device, shape.params * 2 + 2 * GIB)
        if not ok:
            skipped.append({"model": shape.name, "reason": f"weights {weight_gib:.1f} GiB > free"})
            log(f"skip {shape.name}: weights {weight_gib:.1f} GiB, free {free_gib:.1f} GiB")
            continue
        t0 = time.monotonic()
        try:
            model = RandomDecoder(shape, device=str(device))
        except Exception as exc:
            skipped.append({"model": shape.name, "reason": f"{type(exc).__name__}: {exc}"[:300]})
            log(f"skip {shape.name}: could not build ({type(exc).__name__})")
            release(torch, device)
            continue
        built_s = time.monotonic() - t0
        log(f"{shape.name}: {shape.params / 1e9:.2f} B params built in {built_s:.1f} s")
        base = {"model": shape.name, "gpu": label, "tp": 1, "precision": "bf16"}

        for batch, context in decode_points:
            point = {"kind": "decode", "batch": batch, "context": context}
            if time.monotonic() > deadline:
                skipped.append({**base, **point, "reason": "time budget"})
                continue
            need = batch * context * shape.kv_bytes_per_token() + batch * shape.vocab * 8
            ok, free_gib = fits(torch, device, need + 2 * GIB)
            if not ok:
                reason = f"KV cache {need / GIB:.1f} GiB + 2 GiB > free {free_gib:.1f} GiB"
                skipped.append({**base, **point, "reason": reason})
                log(f"skip {shape.name} decode b={batch} c={context}: {reason}")
                continue
            try:
                cache = model.new_cache(batch, context)
                _tokens, step = model.decode_fn(batch, context, cache)
                try:
                    timing = time_callable(
                        torch, step, device=device, warmup=3, runs=args.runs, graph=True
                    )
                except torch.cuda.OutOfMemoryError:
                    raise
                except Exception as exc:  # graph capture failed: time plain launches instead
                    log(f"graph capture failed ({type(exc).__name__}: {exc}); timing eagerly")
                    timing = time_callable(
                        torch, step, device=device, warmup=3, runs=args.runs, graph=False
                    )
            except Exception as exc:
                skipped.append({**base, **point, "reason": f"{type(exc).__name__}: {exc}"[:300]})
                log(f"skip {shape.name} decode b={batch} c={context}: {type(exc).__name__}")
                cache = step = None
                release(torch, device)
                continue
            results.append(
                {
                    **base,
                    **point,
                    "measured_ms": round(timing.median_ms, 4),
                    "min_ms": round(timing.min_ms, 4),
                    "max_ms": round(timing.max_ms, 4),
                    "method": "random-weight bf16 model, static KV cache; " + timing.method,
                }
            )
            log(f"{shape.name} decode b={batch:4d} c={context:5d}: {timing.median_ms:8.3f} ms")
            del cache, step
            release(torch, device)
            save()

        for tokens in prefill_points:
            point = {"kind": "prefill", "batch": 1, "context": tokens}
            if time.monotonic() > deadline:
                skipped.append({**base, **point, "reason": "time budget"})
                continue
            try:
                cache = model.new_cache(1, tokens)
                fn = model.prefill_fn(tokens, cache)
                with torch.inference_mode():
                    timing = time_callable(
                        torch, fn, device=device, warmup=1, runs=args.prefill_runs, graph=False
                    )
            except Exception as exc:
                skipped.append({**base, **point, "reason": f"{type(exc).__name__}: {exc}"[:300]})
                log(f"skip {shape.name} prefill t={tokens}: {type(exc).__name__}")
                cache = fn = None
                release(torch, device)
                continue
            results.append(
                {
                    **base,
                    **point,
                    "measured_ms": round(timing.median_ms, 4),
                    "min_ms": round(timing.min_ms, 4),
                    "max_ms": round(timing.max_ms, 4),
                    "method": "random-weight bf16 model, batch 1, causal SDPA, last-token "
                    "logits; " + timing.method,
                }
            )
            log(f"{shape.name} prefill t={tokens:5d}: {timing.median_ms:8.3f} ms")
            del cache, fn
            release(torch, device)
            save()
        del model
        release(torch, device)
    save()
    log(f"{len(results)} points measured, {len(skipped)} skipped -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="measured.json")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes (CPU check)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even with a GPU")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--prefill-runs", type=int, default=5)
    parser.add_argument("--budget-s", type=float, default=240.0)
    args = parser.parse_args(argv)
    with_grad_off = import_torch().inference_mode()
    with with_grad_off:
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
