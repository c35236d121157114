"""Calibration points (measured step times with their sources and serving engines) and the
fit of the model's efficiency factors and per-engine overheads to them.

Points live in ``suanli/perf/data``: ``published.json`` (numbers from vendor and project
benchmark tables, each with its citation and engine) and ``measured_h200.json`` (this
project's own runs on an H200, engine ``pytorch``). Shared parameters θ (efficiencies,
sharpness, all-reduce bandwidth efficiency, and the centre c of every engine term) are fitted
together with each engine e's terms φ_e (:data:`~suanli.perf.calibration.ENGINE_PARAMS`),
which are pulled toward the centre, so an engine term its points say nothing about stays
there (an engine with no points, as the default one may be, gets the centre)::

    min  Σ_i ( log t̂_i(θ, φ_e(i)) − log t_i )²  +  λ Σ_j ( log θ_j − log θ_j⁰ )²
         + μ Σ_e Σ_k ( log φ_e,k − log c_k )²
    s.t. lo <= θ, φ <= hi          (efficiencies <= 1)

solved with ``scipy.optimize.least_squares`` over the logs. Generalisation to an engine never
measured is checked by leaving each source out, fitting the rest and predicting the left-out
points with the default engine profile (:func:`leave_one_source_out`).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from suanli.catalog.gpus import Gpu, gpu
from suanli.catalog.hf_config import ModelArch
from suanli.catalog.models import model
from suanli.errors import DataFileError, InvalidRequest
from suanli.perf.calibration import (
    DEFAULT_ENGINE,
    ENGINE_PARAMS,
    Calibration,
    default_calibration,
    normalize_engine,
)
from suanli.perf.generation import ENGINE_MAX_BATCH, generate, throughput
from suanli.perf.precision import KV_PRECISIONS
from suanli.perf.step_model import decode_step, prefill

__all__ = [
    "CalibrationPoint",
    "CalibrationResult",
    "calibration_document",
    "calibration_points",
    "default_calibration",
    "evaluate",
    "fit",
    "held_out_points",
    "k_fold",
    "leave_one_source_out",
    "parse_points",
    "point_calibration",
    "pooled",
    "predict_ms",
    "stored_document",
    "summarize",
]

PUBLISHED_FILE = "published.json"
# Published measurements kept out of the fit and predicted as an independent check (see the
# file's _about for why).
HELD_OUT_FILE = "held_out.json"
MEASURED_FILES = ("measured_h200.json",)

# Parameters the fit may move, with bounds. Memory and runtime overhead are not step times.
FREE_PARAMS: dict[str, tuple[float, float]] = {
    "mem_efficiency": (0.3, 1.0),
    "compute_efficiency": (0.2, 1.0),
    "fp8_compute_efficiency": (0.1, 1.0),
    "attn_mem_efficiency": (0.1, 1.0),
    "attn_compute_efficiency": (0.05, 1.0),
    "attn_units_per_sm": (0.01, 4.0),
    "step_overhead_ms": (0.01, 20.0),
    "layer_overhead_us": (0.1, 200.0),
    "prefill_overhead_ms": (0.01, 50.0),
    "prefill_layer_overhead_us": (0.1, 500.0),
    "roofline_sharpness": (1.0, 8.0),
    "allreduce_efficiency": (0.05, 1.0),
    "allreduce_latency_us": (1.0, 200.0),
}
PRIOR_WEIGHT = 0.05  # λ: pull of the shared parameters toward the prior
# μ: pull of each engine's terms toward their centre, chosen by 5-fold cross-validation over
# the 85 points (held-out |error| median / worst / mean, %): μ=0.001 3.3/48.5/5.2,
# 0.003 3.4/43.1/5.3, 0.01 3.4/25.6/5.3, 0.02 3.4/25.6/5.2, 0.05 3.9/27.2/6.0,
# 0.2 4.2/30.5/6.9, 1.0 5.5/31.9/7.5.
ENGINE_WEIGHT = 0.02
OWN_SOURCE = "suanli-h200"
OWN_CITATION = (
    "Suanli's own runs on one H200 (benchmarks/device/calibrate.py, random-weight PyTorch "
    "model, scaled_dot_product_attention decode)"
)
ENGINE_NOTES: dict[str, str] = {
    "vllm": "vLLM: paged KV cache, split-KV decode attention, CUDA graphs (nightly benchmark)",
    "tensorrt-llm": "NVIDIA TensorRT-LLM v0.5: compiled engines with fused kernels",
    "lmdeploy": "lmdeploy v0.1 TurboMind engine: fused CUDA kernels",
    "nim": (
        "NVIDIA NIM 1.8 (TensorRT-LLM behind an HTTP server), timed by a client, so its fixed "
        "costs include the server"
    ),
    "pytorch": (
        "plain PyTorch CUDA-graph decode loop with scaled_dot_product_attention, which does "
        "not split the KV cache (Suanli's own H200 runs)"
    ),
}
# Engines whose default KV cache is fp8 when the weights are fp8: TensorRT-LLM (and NIM, which
# runs it) take the KV-cache dtype from the checkpoint (``dtype="auto"``), and the ModelOpt
# FP8 checkpoints they serve declare an FP8 KV cache. vLLM's ``kv_cache_dtype="auto"`` keeps
# the model's 16-bit dtype unless the checkpoint itself declares one.
FP8_KV_ENGINES = ("tensorrt-llm", "nim")
KINDS = ("decode", "prefill", "generate", "serve")


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One measurement, with how and where it was measured: a decode step (``context`` cached
    tokens), a prefill (``context`` prompt tokens), a whole generation (prefill of
    ``context`` prompt tokens, then ``output_tokens - 1`` decode steps), or serving
    (``requests`` requests of ``context`` prompt and ``output_tokens`` output tokens sent at
    once to a continuously batching server; ``measured_ms`` is the time to finish them all)."""

    model: str
    gpu: str
    kind: str  # decode | prefill | generate
    batch: int
    context: int
    tp: int
    precision: str
    measured_ms: float
    method: str
    source: str
    source_key: str
    split_kv: bool = True  # the engine's decode attention splits the KV cache (see Calibration)
    output_tokens: int = 0  # generate and serve
    requests: int = 0  # serve only
    engine: str = ""  # serving engine that was timed (its profile in the calibration)
    kv_precision: str | None = None  # as the source states it; None: the engine's default


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """A point with the model's prediction; ``error`` = predicted / measured − 1."""

    model: str
    gpu: str
    kind: str
    batch: int
    context: int
    tp: int
    precision: str
    measured_ms: float
    predicted_ms: float
    error: float
    source_key: str
    method: str
    source: str
    engine: str = ""
    profile: str = ""  # the engine profile the prediction used
    output_tokens: int = 0


def _point(raw: Any, *, path: str, index: int, sources: dict[str, Any]) -> CalibrationPoint:
    item = f"#{index}"
    if not isinstance(raw, dict):
        raise DataFileError("expected an object", path=path, item=item)

    def need(key: str) -> Any:
        if key not in raw:
            raise DataFileError("missing required field", path=path, item=item, field=key)
        return raw[key]

    kind = need("kind")
    if kind not in KINDS:
        raise DataFileError(
            f"kind must be one of {', '.join(KINDS)}, got {kind!r}",
            path=path,
            item=item,
            field="kind",
        )
    key = str(raw.get("source", "measured"))
    info = sources.get(key, {})
    method = str(raw.get("method") or info.get("method", ""))
    try:
        return CalibrationPoint(
            model=model(str(need("model"))).name,
            gpu=gpu(str(need("gpu"))).name,
            kind=kind,
            batch=int(need("batch")),
            context=int(need("context")),
            tp=int(raw.get("tp", 1)),
            precision=str(raw.get("precision", "bf16")),
            measured_ms=float(need("measured_ms")),
            method=method,
            source=str(info.get("citation", key)),
            source_key=key,
            split_kv=bool(raw.get("split_kv", info.get("split_kv", True))),
            output_tokens=int(need("output_tokens")) if kind in ("generate", "serve") else 0,
            requests=int(need("requests")) if kind == "serve" else 0,
            engine=normalize_engine(str(raw.get("engine") or info.get("engine") or key)),
            kv_precision=_kv(raw.get("kv_precision") or info.get("kv_precision"), path, item),
        )
    except (TypeError, ValueError) as exc:
        raise DataFileError(f"bad value: {exc}", path=path, item=item) from None


def _kv(value: Any, path: str, item: str) -> str | None:
    if value is None:
        return None
    if value not in KV_PRECISIONS:
        raise DataFileError(
            f"kv_precision must be one of {', '.join(KV_PRECISIONS)}, got {value!r}",
            path=path,
            item=item,
            field="kv_precision",
        )
    return str(value)


def parse_points(raw: Any, *, path: str = "points") -> list[CalibrationPoint]:
    """Points from a list, or from ``{"sources": {...}, "points": [...]}``."""
    sources: dict[str, Any] = {}
    if isinstance(raw, dict):
        sources = raw.get("sources") or {}
        raw = raw.get("points")
    if not isinstance(raw, list):
        raise DataFileError("expected a list of points", path=path, field="points")
    return [_point(p, path=path, index=i, sources=sources) for i, p in enumerate(raw)]


def held_out_points() -> list[CalibrationPoint]:
    """Published measurements stored for checking the model, never fitted to."""
    return _points_from((HELD_OUT_FILE,))


def calibration_points() -> list[CalibrationPoint]:
    """Every stored calibration point: published ones, then this project's measurements."""
    return _points_from((PUBLISHED_FILE, *MEASURED_FILES))


def _points_from(names: Sequence[str]) -> list[CalibrationPoint]:
    folder = resources.files("suanli.perf").joinpath("data")
    points: list[CalibrationPoint] = []
    for name in names:
        entry = folder.joinpath(name)
        if not entry.is_file():
            continue
        try:
            raw = json.loads(entry.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFileError(f"malformed JSON: {exc.msg}", path=name) from None
        if isinstance(raw, list):
            raw = {
                "sources": {},
                "points": [
                    {**p, "source": p.get("source", OWN_SOURCE)} if isinstance(p, dict) else p
                    for p in raw
                ],
            }
            raw["sources"][OWN_SOURCE] = {
                "citation": OWN_CITATION,
                "split_kv": False,
                "engine": "pytorch",
            }
        points.extend(parse_points(raw, path=name))
    return points


@cache
def _arch(name: str) -> ModelArch:
    return model(name)


@cache
def _card(name: str) -> Gpu:
    return gpu(name)


def point_calibration(
    point: CalibrationPoint, cal: Calibration, *, unseen: bool = False
) -> Calibration:
    """The calibration a point is predicted with: its engine's profile when ``cal`` holds one,
    with the point's declared split-KV kind; with ``unseen`` (or an engine-agnostic ``cal``
    lacking the engine), ``cal``'s own default profile as it stands."""
    if unseen:
        return cal
    if cal.has_engine(point.engine):
        cal = cal.for_engine(point.engine)
    if cal.split_kv != point.split_kv:
        cal = cal.with_params(split_kv=point.split_kv)
    return cal


def predict_ms(point: CalibrationPoint, cal: Calibration, *, unseen: bool = False) -> float:
    """The model's time for one point (see :func:`point_calibration` for ``unseen``)."""
    arch, card = _arch(point.model), _card(point.gpu)
    precision: Any = point.precision
    kv: Any = point.kv_precision
    cal = point_calibration(point, cal, unseen=unseen)
    if point.kind == "decode":
        return decode_step(
            arch,
            card,
            batch=point.batch,
            context=point.context,
            tp=point.tp,
            precision=precision,
            calibration=cal,
            kv_precision=kv,
        ).step_ms
    if point.kind == "prefill":
        return prefill(
            arch,
            card,
            prompt_tokens=point.context,
            batch=point.batch,
            tp=point.tp,
            precision=precision,
            calibration=cal,
            kv_precision=kv,
        ).prefill_ms
    if point.kind == "serve":
        # Every request arrives at once: the server keeps as many in flight as its batch
        # cap, the requests and the KV cache allow, so the work takes requests / rate.
        rate = throughput(
            arch,
            card,
            prompt_tokens=point.context,
            output_tokens=point.output_tokens,
            tp=point.tp,
            precision=precision,
            kv_precision=kv,
            calibration=cal,
            max_batch=min(ENGINE_MAX_BATCH, point.requests),
        ).requests_per_s
        return point.requests / rate * 1e3
    return generate(
        arch,
        card,
        batch=point.batch,
        prompt_tokens=point.context,
        output_tokens=point.output_tokens,
        tp=point.tp,
        precision=precision,
        calibration=cal,
        kv_precision=kv,
    ).total_ms


def evaluate(
    points: Sequence[CalibrationPoint], cal: Calibration, *, unseen: bool = False
) -> list[CalibrationResult]:
    """Predicted vs measured for every point, each with its engine's profile (``unseen``:
    every point with the default profile, as for an engine the calibration never saw)."""
    out = []
    for p in points:
        used = point_calibration(p, cal, unseen=unseen)
        predicted = predict_ms(p, cal, unseen=unseen)
        out.append(
            CalibrationResult(
                model=p.model,
                gpu=p.gpu,
                kind=p.kind,
                batch=p.batch,
                context=p.context,
                tp=p.tp,
                precision=p.precision,
                measured_ms=p.measured_ms,
                predicted_ms=predicted,
                error=predicted / p.measured_ms - 1.0,
                source_key=p.source_key,
                method=p.method,
                source=p.source,
                engine=p.engine,
                profile=used.engine,
                output_tokens=p.output_tokens,
            )
        )
    return out


def _stats(subset: Sequence[CalibrationResult]) -> dict[str, Any]:
    errors = [abs(r.error) for r in subset]
    return {
        "points": len(subset),
        "median_abs_error": statistics.median(errors) if errors else 0.0,
        "max_abs_error": max(errors) if errors else 0.0,
        "mean_error": statistics.fmean(r.error for r in subset) if subset else 0.0,
    }


def summarize(rows: Sequence[CalibrationResult]) -> dict[str, Any]:
    """Median and worst absolute relative error, overall and per source."""
    out = _stats(rows)
    out["by_source"] = {
        key: {
            "engine": next(r.engine for r in rows if r.source_key == key),
            **_stats([r for r in rows if r.source_key == key]),
        }
        for key in sorted({r.source_key for r in rows})
    }
    return out


def _engine_split_kv(points: Sequence[CalibrationPoint], engine: str, default: bool) -> bool:
    kinds = {p.split_kv for p in points if p.engine == engine}
    if len(kinds) > 1:
        raise InvalidRequest(f"points of engine {engine!r} disagree on split_kv", field="split_kv")
    return kinds.pop() if kinds else default


def fit(
    points: Sequence[CalibrationPoint],
    prior: Calibration | None = None,
    *,
    free: Sequence[str] | None = None,
    default_engine: str = DEFAULT_ENGINE,
) -> Calibration:
    """Fit the shared parameters and every engine's terms to ``points`` (module docstring).

    The result is set to ``default_engine``'s profile and holds one profile per engine among
    the points, plus the default engine (at the centre if it has no points).
    """
    import numpy as np
    from scipy.optimize import least_squares

    base = replace(prior or Calibration(), engines=())
    default_engine = normalize_engine(default_engine)
    names = list(free or FREE_PARAMS)
    per_engine = [n for n in names if n in ENGINE_PARAMS]
    engines = sorted({p.engine for p in points} | {default_engine})
    split = {e: _engine_split_kv(points, e, base.split_kv) for e in engines}
    slots = [(n, "") for n in names] + [(n, e) for e in engines for n in per_engine]
    x0 = np.log([getattr(base, n) for n, _ in slots])
    lo = np.log([FREE_PARAMS[n][0] for n, _ in slots])
    hi = np.log([FREE_PARAMS[n][1] for n, _ in slots])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    centre = np.array([names.index(n) for n, e in slots if e], dtype=int)
    own = np.arange(len(names), len(slots))
    measured = np.log([p.measured_ms for p in points])
    lam, mu = math.sqrt(PRIOR_WEIGHT), math.sqrt(ENGINE_WEIGHT)

    def calibrations(x: Any) -> dict[str, Calibration]:
        values = np.exp(x).tolist()
        shared = dict(zip(names, values[: len(names)], strict=True))
        out = {}
        for e in engines:
            terms = {n: v for (n, s), v in zip(slots, values, strict=True) if s == e}
            params = base.with_params(
                **{**shared, **terms},
                split_kv=split[e],
                fp8_kv_with_fp8_weights=e in FP8_KV_ENGINES,
            )
            out[e] = replace(params, engine=e)
        return out

    def residuals(x: Any) -> Any:
        cals = calibrations(x)
        predicted = np.log([predict_ms(p, cals[p.engine]) for p in points])
        return np.concatenate(
            [
                predicted - measured,
                lam * (x[: len(names)] - x0[: len(names)]),
                mu * (x[own] - x[centre]),
            ]
        )

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=1.0, diff_step=1e-3)
    cals = calibrations(result.x)
    profiles = tuple(
        replace(cals[e].profile(), description=ENGINE_NOTES.get(e, "")) for e in engines
    )
    return replace(
        cals[default_engine],
        engine=default_engine,
        engines=profiles,
        source=f"fitted to {len(points)} points (least squares on log step time)",
    )


def leave_one_source_out(
    points: Sequence[CalibrationPoint],
    prior: Calibration | None = None,
    *,
    free: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    rows: list[CalibrationResult] | None = None,
) -> dict[str, dict[str, Any]]:
    """For each source: fit to every other source, then predict its points. A source whose
    engine no other source measured is predicted with the fit's default engine profile,
    exactly as the model would treat an engine it has never seen. ``rows``, when given,
    receives every left-out prediction (for the figures over the whole set)."""
    out: dict[str, dict[str, Any]] = {}
    for key in sorted({p.source_key for p in points}):
        if progress is not None:
            progress(key)
        train = [p for p in points if p.source_key != key]
        test = [p for p in points if p.source_key == key]
        cal = fit(train, prior, free=free)
        seen = {p.engine for p in train}
        unseen = test[0].engine not in seen
        predicted = evaluate(test, cal, unseen=unseen)
        if rows is not None:
            rows.extend(predicted)
        out[key] = {
            "engine": test[0].engine,
            "evaluated_with": cal.engine if unseen else test[0].engine,
            "engine_unseen": unseen,
            **_stats(predicted),
        }
    return out


def pooled(
    per_source: dict[str, dict[str, Any]], rows: Sequence[CalibrationResult]
) -> dict[str, Any]:
    """Leave-one-source-out figures over the whole set: every point predicted by the fit
    that left its source out."""
    return {"sources": len(per_source), **_stats(rows)}


def k_fold(
    points: Sequence[CalibrationPoint],
    folds: int = 5,
    prior: Calibration | None = None,
    *,
    free: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Held-out error with seen engines: point i goes to fold ``i mod folds`` (the stored
    order interleaves sources); each fold is predicted by a fit to the others."""
    rows: list[CalibrationResult] = []
    for k in range(folds):
        if progress is not None:
            progress(f"fold {k + 1} of {folds}")
        train = [p for i, p in enumerate(points) if i % folds != k]
        test = [p for i, p in enumerate(points) if i % folds == k]
        rows += evaluate(test, fit(train, prior, free=free))
    return {"folds": folds, **summarize(rows)}


def calibration_document(
    cal: Calibration,
    points: Sequence[CalibrationPoint],
    loso: dict[str, dict[str, Any]] | None = None,
    cross_validation: dict[str, Any] | None = None,
    loso_overall: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document stored as ``data/calibration.json`` for a fitted calibration, with
    the errors of its stored (rounded) parameters on ``points``, the leave-one-source-out
    figures ``loso`` and the k-fold ``cross_validation``."""

    def rounded(values: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 4) for k, v in values.items()}

    document: dict[str, Any] = {
        "source": "",
        "method": (
            "scipy.optimize.least_squares on log(predicted/measured): efficiencies shared by "
            "all engines, fixed costs and all-reduce latency per engine, pulled toward their "
            "centre; runtime_overhead_gb and int4_dequant_factor are not fitted (no step-time "
            "point constrains them)"
        ),
        "default_engine": cal.engine,
        "params": rounded(cal.params()),
        "engines": {
            p.name: {
                "description": p.description,
                "split_kv": p.split_kv,
                "fp8_kv_with_fp8_weights": p.fp8_kv_with_fp8_weights,
                "params": rounded(p.params()),
            }
            for p in cal.engines
        },
    }
    from suanli.perf.calibration import calibration_from_dict

    stored = calibration_from_dict(document)
    summary = summarize(evaluate(points, stored))
    sources = ", ".join(sorted(summary["by_source"]))
    document["source"] = (
        f"fitted by `suanli perf calibration --refit` to {summary['points']} points "
        f"({sources}), engine-aware: median |error| {100 * summary['median_abs_error']:.1f}%, "
        f"worst {100 * summary['max_abs_error']:.1f}%"
    )
    document["validation"] = {
        "summary": summary,
        "leave_one_source_out": loso or {},
        "leave_one_source_out_overall": loso_overall or {},
        "cross_validation": cross_validation or {},
    }
    return document


def stored_document() -> dict[str, Any]:
    """The shipped ``data/calibration.json`` as a dict (for its validation figures)."""
    text = resources.files("suanli.perf").joinpath("data", "calibration.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw
