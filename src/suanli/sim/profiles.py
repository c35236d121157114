"""Per-(workload, GPU type) replica profiles from the performance model.

For each GPU type the smallest tensor-parallel degree is chosen at which the model fits and
a replica meets the workload's TPOT target at some batch; the profile then holds prefill
times over prompt lengths and decode step times over batch sizes (from
:func:`suanli.perf.prefill` and :func:`suanli.perf.decode_step`) and the request rate one
replica sustains at its largest SLO-meeting batch ``B``:

    rps = 1 / (E[prefill_s(prompt)] + E[output] * step_s(B) / B).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from suanli import catalog
from suanli.catalog.traces import Trace, builtin_trace
from suanli.errors import SuanliError
from suanli.sim.scenario import ServiceProfile, Workload

PROMPT_GRID = (64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
BATCH_GRID = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TP_DEGREES = (1, 2, 4, 8)
# Keep a replica's batch step below this share of the TPOT target (jitter, mixed prefill).
TPOT_MARGIN = 0.8


def build_profile(workload: Workload, gpu_name: str, trace: Trace) -> ServiceProfile | None:
    """The cheapest-TP profile of ``workload`` on ``gpu_name``, or None when none meets the SLOs."""
    from suanli.catalog.models import model as load_model
    from suanli.perf import decode_step, max_tokens_in_memory, prefill

    if gpu_name in workload.profiles:
        return workload.profiles[gpu_name]
    arch = load_model(workload.model)
    gpu = catalog.gpu(gpu_name)
    prompt_mean = float(trace.prompt_tokens.mean())
    output_mean = float(max(trace.output_tokens.mean(), 1.0))
    prompt_p95 = float(np.percentile(trace.prompt_tokens, 95))
    context = int(prompt_mean + output_mean / 2)
    tokens_per_seq = prompt_mean + output_mean
    precision = workload.precision
    for tp in TP_DEGREES:
        try:
            room = max_tokens_in_memory(arch, gpu, tp=tp, precision=precision)  # type: ignore[arg-type]
            if room < tokens_per_seq:
                continue
            steps = [
                decode_step(arch, gpu, batch=b, context=context, tp=tp, precision=precision).step_ms  # type: ignore[arg-type]
                for b in BATCH_GRID
            ]
            prefills = [
                prefill(arch, gpu, prompt_tokens=p, tp=tp, precision=precision).prefill_ms  # type: ignore[arg-type]
                for p in PROMPT_GRID
            ]
        except SuanliError:
            continue
        ok = [
            b
            for b, s in zip(BATCH_GRID, steps, strict=True)
            if s <= TPOT_MARGIN * workload.tpot_p95_ms and b * tokens_per_seq <= room
        ]
        if not ok:
            continue
        if float(np.interp(prompt_p95, PROMPT_GRID, prefills)) > 0.7 * workload.ttft_p95_ms:
            continue
        max_batch = max(ok)
        step_s = float(np.interp(max_batch, BATCH_GRID, steps)) / 1000.0
        prefill_mean_s = float(np.interp(trace.prompt_tokens, PROMPT_GRID, prefills).mean()) / 1000
        rps = 1.0 / (prefill_mean_s + output_mean * step_s / max_batch)
        return ServiceProfile(
            gpu=gpu.name,
            gpus_per_replica=tp,
            max_batch=max_batch,
            rps=rps,
            prompt_grid=tuple(float(p) for p in PROMPT_GRID),
            prefill_ms=tuple(float(x) for x in prefills),
            batch_grid=tuple(float(b) for b in BATCH_GRID),
            step_ms=tuple(float(x) for x in steps),
            source=f"suanli.perf ({workload.model} {precision}, tp={tp})",
        )
    return None


def build_profiles(
    workloads: Sequence[Workload], gpu_names: Sequence[str]
) -> list[dict[str, ServiceProfile]]:
    """For each workload, GPU name -> profile (GPU types that cannot meet the SLOs left out).

    Profiles a workload gives explicitly win; the other GPU types are sized by the model.
    """
    out: list[dict[str, ServiceProfile]] = []
    for w in workloads:
        trace = builtin_trace(w.trace)
        profiles: dict[str, ServiceProfile] = {}
        for g in gpu_names:
            p = build_profile(w, g, trace)
            if p is not None:
                profiles[g] = p
        out.append(profiles)
    return out
