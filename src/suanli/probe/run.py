"""One probe run: detect, identify, measure within the time budget, judge, and seal a record.

``--quick`` must end within 60 s and a full run within 5 minutes: the budget starts before
PyTorch is imported, every measurement checks the time left before it starts, and what does
not fit is recorded as skipped (the verdict then rests on what was measured).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from suanli import __version__
from suanli.catalog import gpus as catalog_gpus
from suanli.catalog.gpus import Gpu
from suanli.probe.detect import DetectedGpu, Runner, detect, subprocess_runner
from suanli.probe.identify import identify
from suanli.probe.measure import Budget, Measurement, numpy_suite
from suanli.probe.record import build_record, machine_info, plain
from suanli.probe.verdict import judge

QUICK_BUDGET_S = 50.0
FULL_BUDGET_S = 280.0


@dataclass(frozen=True, slots=True)
class Environment:
    """What the probe talks to; the tests replace every part."""

    runner: Runner = subprocess_runner
    torch: Any = None
    nvml: Any = None


def load_environment() -> Environment:
    """The real machine: ``nvidia-smi``, and pynvml / PyTorch when they import."""
    torch: Any = None
    nvml: Any = None
    try:
        from suanli.probe.transformer import import_torch

        torch = import_torch()
    except ImportError:
        torch = None
    try:
        import pynvml

        nvml = pynvml
    except ImportError:
        nvml = None
    return Environment(subprocess_runner, torch, nvml)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def gpu_entry(
    detected: DetectedGpu, measurements: Sequence[Measurement], catalog: Sequence[Gpu]
) -> dict[str, Any]:
    """Identification, measurements and verdict of one GPU, as record JSON."""
    ident = identify(detected, catalog)
    verdict = judge(
        ident,
        measurements,
        catalog,
        memory_gib=detected.memory_gib if detected.memory_mib else None,
    )
    return {
        "index": detected.index,
        "reported": plain(detected),
        "identification": plain(ident),
        "measurements": plain(list(measurements)),
        "verdict": plain(verdict),
    }


def probe(
    *,
    quick: bool = False,
    env: Environment | None = None,
    catalog: Sequence[Gpu] | None = None,
    budget_s: float | None = None,
    tiny: bool = False,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = _say,
    challenge: str | None = None,
) -> dict[str, Any]:
    """Run the probe and return the sealed verification record.

    ``challenge`` is a nonce issued by the exchange: the probe runs the workload it seeds
    and seals the answer into the record (:mod:`suanli.probe.challenge`).

    Raises :class:`~suanli.errors.Unavailable` when no GPU or driver is found.
    ``tiny`` shrinks every size (for tests on a CPU build of PyTorch).
    """
    started = clock()
    budget = Budget(budget_s or (QUICK_BUDGET_S if quick else FULL_BUDGET_S), clock)
    env = env or load_environment()
    catalog = tuple(catalog or catalog_gpus())
    detected = detect(env.runner, nvml=env.nvml, torch=env.torch)
    progress(f"found {len(detected)} GPU(s): " + ", ".join(d.name for d in detected))
    torch = env.torch
    try:
        cuda = torch is not None and bool(torch.cuda.is_available())
    except Exception:
        cuda = False
    per_gpu: dict[int, list[Measurement]] = {d.index: [] for d in detected}
    extra: dict[str, Any] = {}
    if cuda:
        from suanli.probe.torch_measure import gpu_suite, peer_copy

        count = torch.cuda.device_count()
        for d in detected:
            if d.index >= count:
                continue
            progress(f"measuring GPU {d.index} ({d.name}), {budget.left_s():.0f} s left")
            per_gpu[d.index] = gpu_suite(torch, d.index, budget, quick=quick, tiny=tiny)
        if count >= 2 and len(detected) >= 2:
            pairs = [(0, 1)] if quick else [(i, (i + 1) % count) for i in range(count)]
            for source, target in pairs:
                m = peer_copy(torch, source, target, 8 if tiny else 512, budget, runs=10)
                per_gpu.setdefault(source, []).append(m)
    else:
        progress("PyTorch with CUDA is not available: GPU figures are not measured")
        extra["cpu_measurements"] = numpy_suite(budget, quick=True)
    if challenge is not None:
        from suanli.probe.challenge import answer

        extra["challenge"] = answer(challenge)
    entries = [gpu_entry(d, per_gpu.get(d.index, []), catalog) for d in detected]
    machine = machine_info(torch)
    if detected and detected[0].driver_version:
        machine["driver"] = detected[0].driver_version
    return build_record(
        machine=machine,
        gpus=entries,
        mode="quick" if quick else "full",
        tool_version=__version__,
        duration_s=clock() - started,
        extra={"budget_s": budget.seconds, **extra},
    )


def summary_rows(record: dict[str, Any]) -> list[list[Any]]:
    """Rows for the terminal table: GPU, claimed model, figures, verdict."""
    rows = []
    for entry in record["gpus"]:
        figures = {m["name"]: m["value"] for m in entry["measurements"]}
        rows.append(
            [
                entry["index"],
                entry["reported"]["name"],
                entry["identification"]["claimed"] or "?",
                figures.get("bf16_matmul_tflops"),
                figures.get("fp8_matmul_tflops"),
                figures.get("hbm_copy_tb_s"),
                figures.get("h2d_gb_s"),
                figures.get("decode_step_ms"),
                entry["verdict"]["status"],
            ]
        )
    return rows
