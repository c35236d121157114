"""Calibration points (measured step times with their sources) and the fit of the model's
efficiency factors and overheads to them.

Points live in ``suanli/perf/data``: ``published.json`` (numbers from vendor and project
benchmark tables, each with its citation) and ``measured_h200.json`` (this project's own runs
on an H200, when present). The fit minimises squared log errors with a weak pull toward the
prior values, so a parameter the points say nothing about stays where it was::

    min_θ  Σ_i ( log t̂_i(θ) − log t_i )²  +  λ Σ_j ( log θ_j − log θ_j⁰ )²
    s.t.   lo_j <= θ_j <= hi_j          (efficiencies <= 1)

solved with ``scipy.optimize.least_squares`` over log θ.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from suanli.catalog.gpus import gpu
from suanli.catalog.models import model
from suanli.errors import DataFileError
from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.step_model import decode_step, prefill

__all__ = [
    "CalibrationPoint",
    "CalibrationResult",
    "calibration_document",
    "calibration_points",
    "default_calibration",
    "evaluate",
    "fit",
    "fit_per_engine",
    "parse_points",
    "predict_ms",
    "summarize",
]

PUBLISHED_FILE = "published.json"
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
PRIOR_WEIGHT = 0.05
KINDS = ("decode", "prefill", "generate")


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One measurement, with how and where it was measured: a decode step (``context`` cached
    tokens), a prefill (``context`` prompt tokens), or a whole generation (prefill of
    ``context`` prompt tokens, then ``output_tokens - 1`` decode steps)."""

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
    output_tokens: int = 0  # generate only


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
            output_tokens=int(need("output_tokens")) if kind == "generate" else 0,
        )
    except (TypeError, ValueError) as exc:
        raise DataFileError(f"bad value: {exc}", path=path, item=item) from None


def parse_points(raw: Any, *, path: str = "points") -> list[CalibrationPoint]:
    """Points from a list, or from ``{"sources": {...}, "points": [...]}``."""
    sources: dict[str, Any] = {}
    if isinstance(raw, dict):
        sources = raw.get("sources") or {}
        raw = raw.get("points")
    if not isinstance(raw, list):
        raise DataFileError("expected a list of points", path=path, field="points")
    return [_point(p, path=path, index=i, sources=sources) for i, p in enumerate(raw)]


def calibration_points() -> list[CalibrationPoint]:
    """Every stored calibration point: published ones, then this project's measurements."""
    folder = resources.files("suanli.perf").joinpath("data")
    points: list[CalibrationPoint] = []
    for name in (PUBLISHED_FILE, *MEASURED_FILES):
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
                    {**p, "source": p.get("source", "suanli-h200")} if isinstance(p, dict) else p
                    for p in raw
                ],
            }
            raw["sources"]["suanli-h200"] = {
                "citation": (
                    "Suanli's own runs on one H200 (benchmarks/device/calibrate.py, "
                    "random-weight PyTorch model, scaled_dot_product_attention decode)"
                ),
                "split_kv": False,
            }
        points.extend(parse_points(raw, path=name))
    return points


def predict_ms(point: CalibrationPoint, cal: Calibration) -> float:
    """The model's time for one point."""
    arch, card = model(point.model), gpu(point.gpu)
    precision: Any = point.precision
    if cal.split_kv != point.split_kv:
        cal = cal.with_params(split_kv=point.split_kv)
    if point.kind == "decode":
        return decode_step(
            arch,
            card,
            batch=point.batch,
            context=point.context,
            tp=point.tp,
            precision=precision,
            calibration=cal,
        ).step_ms
    first = prefill(
        arch,
        card,
        prompt_tokens=point.context,
        batch=point.batch,
        tp=point.tp,
        precision=precision,
        calibration=cal,
    ).prefill_ms
    if point.kind == "prefill":
        return first
    # generate: the prefill yields the first token, each of n = output - 1 decode steps one
    # more. A step's time is affine in its context, so the n steps sum to n x the mean of the
    # first and the last.
    steps = point.output_tokens - 1
    if steps <= 0:
        return first
    ends = [
        decode_step(
            arch,
            card,
            batch=point.batch,
            context=point.context + offset,
            tp=point.tp,
            precision=precision,
            calibration=cal,
        ).step_ms
        for offset in (0, steps - 1)
    ]
    return first + steps * (ends[0] + ends[1]) / 2.0


def evaluate(
    points: Sequence[CalibrationPoint], cal: Calibration | Mapping[str, Calibration]
) -> list[CalibrationResult]:
    """Predicted vs measured for every point (with one calibration, or one per source)."""
    out = []
    for p in points:
        predicted = predict_ms(p, cal if isinstance(cal, Calibration) else cal[p.source_key])
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
            )
        )
    return out


def summarize(rows: Sequence[CalibrationResult]) -> dict[str, Any]:
    """Median and worst absolute relative error, overall and per source."""

    def stats(subset: Sequence[CalibrationResult]) -> dict[str, Any]:
        errors = [abs(r.error) for r in subset]
        return {
            "points": len(subset),
            "median_abs_error": statistics.median(errors) if errors else 0.0,
            "max_abs_error": max(errors) if errors else 0.0,
            "mean_error": statistics.fmean(r.error for r in subset) if subset else 0.0,
        }

    out = stats(rows)
    out["by_source"] = {
        key: stats([r for r in rows if r.source_key == key])
        for key in sorted({r.source_key for r in rows})
    }
    return out


def calibration_document(cal: Calibration, rows: Sequence[CalibrationResult]) -> dict[str, Any]:
    """The JSON document stored as ``data/calibration.json`` for a fitted calibration."""
    summary = summarize(rows)
    sources = ", ".join(sorted({r.source_key for r in rows}))
    return {
        "source": (
            f"fitted by `suanli perf calibration --refit` to {summary['points']} points "
            f"({sources}): median |error| {100 * summary['median_abs_error']:.1f}%, "
            f"worst {100 * summary['max_abs_error']:.1f}%"
        ),
        "method": (
            "scipy.optimize.least_squares on log(predicted/measured) with a weak pull toward "
            "the prior values; runtime_overhead_gb and int4_dequant_factor are not fitted "
            "(no step-time point constrains them)"
        ),
        "params": {k: round(v, 4) for k, v in cal.params().items()},
    }


def fit(
    points: Sequence[CalibrationPoint],
    prior: Calibration | None = None,
    *,
    free: Sequence[str] | None = None,
) -> Calibration:
    """Fit the free parameters to ``points`` (see the module docstring)."""
    import numpy as np
    from scipy.optimize import least_squares

    base = prior or Calibration()
    names = list(free or FREE_PARAMS)
    x0 = np.log([getattr(base, n) for n in names])
    lo = np.log([FREE_PARAMS[n][0] for n in names])
    hi = np.log([FREE_PARAMS[n][1] for n in names])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    measured = np.log([p.measured_ms for p in points])
    prior_weight = math.sqrt(PRIOR_WEIGHT)

    def residuals(x: Any) -> Any:
        cal = base.with_params(**dict(zip(names, np.exp(x).tolist(), strict=True)))
        predicted = np.log([predict_ms(p, cal) for p in points])
        return np.concatenate([predicted - measured, prior_weight * (x - x0)])

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=1.0, diff_step=1e-3)
    fitted = dict(zip(names, np.exp(result.x).tolist(), strict=True))
    return base.with_params(**fitted).with_source(
        f"fitted to {len(points)} points (least squares on log step time)"
    )


# Fixed costs that depend on the serving engine (kernel fusion, graphs, request handling).
ENGINE_PARAMS = (
    "step_overhead_ms",
    "layer_overhead_us",
    "prefill_overhead_ms",
    "prefill_layer_overhead_us",
)


def fit_per_engine(
    points: Sequence[CalibrationPoint],
    prior: Calibration | None = None,
) -> dict[str, Calibration]:
    """A diagnostic fit: hardware efficiencies shared by all points, fixed overheads
    (:data:`ENGINE_PARAMS`) fitted separately for each source, since each source measured one
    serving engine. Returns one calibration per source key.

    It shows how much of the shipped model's error is engine overhead rather than hardware;
    the shipped calibration (:func:`fit`) has one set of overheads for all engines.
    """
    import numpy as np
    from scipy.optimize import least_squares

    base = prior or default_calibration()
    sources = sorted({p.source_key for p in points})
    shared = [n for n in FREE_PARAMS if n not in ENGINE_PARAMS]
    slots: list[tuple[str, str | None]] = [(n, None) for n in shared]
    slots += [(n, s) for s in sources for n in ENGINE_PARAMS]
    x0 = np.log([getattr(base, n) for n, _ in slots])
    lo = np.log([FREE_PARAMS[n][0] for n, _ in slots])
    hi = np.log([FREE_PARAMS[n][1] for n, _ in slots])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    measured = np.log([p.measured_ms for p in points])
    prior_weight = math.sqrt(PRIOR_WEIGHT)

    def calibrations(x: Any) -> dict[str, Calibration]:
        values = np.exp(x).tolist()
        common = {n: v for (n, s), v in zip(slots, values, strict=True) if s is None}
        return {
            source: base.with_params(
                **common,
                **{n: v for (n, s), v in zip(slots, values, strict=True) if s == source},
            )
            for source in sources
        }

    def residuals(x: Any) -> Any:
        cals = calibrations(x)
        predicted = np.log([predict_ms(p, cals[p.source_key]) for p in points])
        return np.concatenate([predicted - measured, prior_weight * (x - x0)])

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale=1.0, diff_step=1e-3)
    return {
        source: cal.with_source(f"per-engine fit, overheads of {source}")
        for source, cal in calibrations(result.x).items()
    }
