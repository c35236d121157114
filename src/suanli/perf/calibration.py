"""Calibration: the efficiency factors and overheads that turn a roofline into step times.

A step's time depends on the hardware *and* on the serving engine: its kernels (fused or
not, split-KV decode attention or not), its all-reduce, its per-step scheduling and launch
costs. The calibration therefore has two layers:

* shared factors (fractions of datasheet peaks, roofline sharpness, all-reduce bandwidth
  efficiency): properties of the hardware reached by any competent engine;
* one :class:`EngineProfile` per serving engine: fixed costs per step, per layer, per prefill,
  the all-reduce latency and whether decode attention splits the KV cache.

A :class:`Calibration`'s own (top-level) overhead fields are those of its engine
(``engine``, the default profile); :meth:`Calibration.for_engine` returns the calibration
for another stored engine. The shipped default is the vLLM profile (see
:data:`DEFAULT_ENGINE`). The fitted values ship as package data (``data/calibration.json``)
together with how they were fitted; :func:`default_calibration` reads them. The fit itself
lives in :mod:`suanli.perf.fit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from typing import Any

from suanli.errors import DataFileError, NotFound

CALIBRATION_FILE = "calibration.json"

# The default engine profile: vLLM is the most widely deployed open-source serving engine, and
# what a buyer renting GPUs most likely runs (SGLang's kernels and overheads are close to it).
DEFAULT_ENGINE = "vllm"

# Fixed costs that depend on the serving engine rather than on the hardware.
ENGINE_PARAMS = (
    "step_overhead_ms",
    "layer_overhead_us",
    "prefill_overhead_ms",
    "prefill_layer_overhead_us",
    "allreduce_latency_us",
)
_NOT_NUMERIC = ("source", "split_kv", "fp8_kv_with_fp8_weights", "engine", "engines")


@dataclass(frozen=True, slots=True)
class EngineProfile:
    """A serving engine's fixed costs (see :class:`Calibration` for their meaning) and its
    decode-attention kernel kind (``split_kv``)."""

    name: str
    step_overhead_ms: float
    layer_overhead_us: float
    prefill_overhead_ms: float
    prefill_layer_overhead_us: float
    allreduce_latency_us: float
    split_kv: bool = True
    description: str = ""
    fp8_kv_with_fp8_weights: bool = False

    def params(self) -> dict[str, float]:
        """The numeric terms, keyed as in :data:`ENGINE_PARAMS`."""
        return {name: float(getattr(self, name)) for name in ENGINE_PARAMS}


def normalize_engine(name: str) -> str:
    """Canonical spelling of an engine name: lower case, ``-`` for ``_`` and spaces."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


@dataclass(frozen=True, slots=True)
class Calibration:
    """Efficiency factors (fractions of datasheet peaks) and fixed costs.

    ``mem_efficiency``          fraction of HBM bandwidth that weight-streaming GEMMs reach
    ``compute_efficiency``      fraction of the bf16 tensor peak that large GEMMs reach
    ``fp8_compute_efficiency``  fraction of the fp8 tensor peak that fp8 GEMMs reach
    ``attn_mem_efficiency``     fraction of HBM bandwidth reached reading the KV cache
    ``attn_units_per_sm``       decode attention work units per SM needed for full bandwidth
    ``attn_compute_efficiency`` fraction of tensor peak reached by attention (prefill)
    ``step_overhead_ms``        fixed cost per forward pass (sampling, scheduling) [engine]
    ``layer_overhead_us``       fixed cost per transformer layer (kernel tails, norms) [engine]
    ``prefill_overhead_ms``     extra fixed cost per prefill (request set-up) [engine]
    ``prefill_layer_overhead_us`` extra per-layer cost in prefill (kernel launches) [engine]
    ``roofline_sharpness``      p in (mem^p + compute^p)^(1/p) per operator group
    ``allreduce_efficiency``    fraction of per-direction link bandwidth an all-reduce reaches
    ``allreduce_latency_us``    fixed latency per all-reduce (custom kernel vs NCCL) [engine]
    ``runtime_overhead_gb``     memory per GPU beyond weights and KV (CUDA context, workspace)
    ``int4_dequant_factor``     extra compute per weight-only int4 GEMM relative to bf16
    ``split_kv``                the engine splits each sequence's KV cache across thread blocks
                                in decode attention (flash-decoding, as vLLM, SGLang and
                                TensorRT-LLM do); when False, occupancy limits small batches
    ``fp8_kv_with_fp8_weights`` the engine keeps an fp8 KV cache when the weights are fp8 (the
                                default KV precision; vLLM keeps the model's 16-bit dtype)
    ``engine``                  the engine whose terms ([engine] above) the fields hold
    ``engines``                 every stored engine profile (empty: engine-agnostic)
    """

    mem_efficiency: float = 0.85
    compute_efficiency: float = 0.75
    fp8_compute_efficiency: float = 0.55
    attn_mem_efficiency: float = 0.6
    attn_compute_efficiency: float = 0.5
    attn_units_per_sm: float = 0.5
    step_overhead_ms: float = 0.3
    layer_overhead_us: float = 10.0
    prefill_overhead_ms: float = 2.0
    prefill_layer_overhead_us: float = 20.0
    roofline_sharpness: float = 3.0
    allreduce_efficiency: float = 0.7
    allreduce_latency_us: float = 12.0
    runtime_overhead_gb: float = 3.0
    int4_dequant_factor: float = 1.15
    split_kv: bool = True
    fp8_kv_with_fp8_weights: bool = False
    source: str = "defaults (not fitted)"
    engine: str = "default"
    engines: tuple[EngineProfile, ...] = ()

    def with_params(self, **params: float | bool) -> Calibration:
        """A copy with some parameters replaced (the stored engine profiles are kept)."""
        return replace(self, **params)  # type: ignore[arg-type]

    def with_source(self, source: str) -> Calibration:
        """A copy with a new provenance note."""
        return replace(self, source=source)

    def params(self) -> dict[str, float]:
        """The numeric parameters as a dict (the engine terms are this calibration's engine's)."""
        return {
            f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in _NOT_NUMERIC
        }

    def engine_names(self) -> tuple[str, ...]:
        """Names of the stored engine profiles (or just this calibration's engine)."""
        return tuple(p.name for p in self.engines) or (self.engine,)

    def has_engine(self, name: str) -> bool:
        """Whether :meth:`for_engine` knows ``name``."""
        return normalize_engine(name) in self.engine_names()

    def profile(self) -> EngineProfile:
        """This calibration's own engine terms as a profile."""
        return EngineProfile(
            name=self.engine,
            step_overhead_ms=self.step_overhead_ms,
            layer_overhead_us=self.layer_overhead_us,
            prefill_overhead_ms=self.prefill_overhead_ms,
            prefill_layer_overhead_us=self.prefill_layer_overhead_us,
            allreduce_latency_us=self.allreduce_latency_us,
            split_kv=self.split_kv,
            fp8_kv_with_fp8_weights=self.fp8_kv_with_fp8_weights,
        )

    def for_engine(self, name: str | None) -> Calibration:
        """The calibration for engine ``name`` (None: this one, the default profile).

        Raises :class:`~suanli.errors.NotFound`, listing the known engines, for any other name.
        """
        if name is None:
            return self
        key = normalize_engine(name)
        if key == self.engine:
            return self
        for prof in self.engines:
            if prof.name == key:
                return replace(
                    self,
                    engine=key,
                    split_kv=prof.split_kv,
                    fp8_kv_with_fp8_weights=prof.fp8_kv_with_fp8_weights,
                    step_overhead_ms=prof.step_overhead_ms,
                    layer_overhead_us=prof.layer_overhead_us,
                    prefill_overhead_ms=prof.prefill_overhead_ms,
                    prefill_layer_overhead_us=prof.prefill_layer_overhead_us,
                    allreduce_latency_us=prof.allreduce_latency_us,
                )
        known = list(self.engine_names())
        raise NotFound(
            f"unknown engine {name!r}; known engines: {', '.join(known)}", suggestions=known
        )


def _number(value: Any, *, path: str, field: str, item: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise DataFileError(
            f"expected a number >= 0, got {value!r}", path=path, item=item, field=field
        )
    return float(value)


def _engine_profile(name: str, raw: Any, *, path: str) -> EngineProfile:
    item = f"engines.{name}"
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict):
        raise DataFileError("expected an object with params", path=path, item=item, field="params")
    params = raw["params"]
    values: dict[str, float] = {}
    for key in ENGINE_PARAMS:
        if key not in params:
            raise DataFileError("missing engine parameter", path=path, item=item, field=key)
        values[key] = _number(params[key], path=path, item=item, field=key)
    return EngineProfile(
        name=normalize_engine(name),
        split_kv=bool(raw.get("split_kv", True)),
        fp8_kv_with_fp8_weights=bool(raw.get("fp8_kv_with_fp8_weights", False)),
        description=str(raw.get("description", "")),
        **values,
    )


def calibration_from_dict(raw: dict[str, Any], *, path: str = CALIBRATION_FILE) -> Calibration:
    """Build a :class:`Calibration` from the JSON document's ``params``, ``engines``,
    ``default_engine`` and ``source``. The top-level engine terms become the default engine's
    profile values when that engine is listed."""
    params = raw.get("params")
    if not isinstance(params, dict):
        raise DataFileError("missing object", path=path, field="params")
    known = {f.name for f in fields(Calibration)} - set(_NOT_NUMERIC)
    values: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            raise DataFileError(f"unknown parameter {key!r}", path=path, field=key)
        values[key] = _number(value, path=path, field=key)
    engines_raw = raw.get("engines") or {}
    if not isinstance(engines_raw, dict):
        raise DataFileError("expected an object", path=path, field="engines")
    engines = tuple(_engine_profile(str(k), v, path=path) for k, v in engines_raw.items())
    default = normalize_engine(str(raw.get("default_engine", "default")))
    if engines and default not in {p.name for p in engines}:
        raise DataFileError(
            f"default_engine {default!r} is not among the engines",
            path=path,
            field="default_engine",
        )
    values["source"] = str(raw.get("source", "package data"))
    cal = Calibration(engines=engines, **values)
    if engines:
        cal = replace(cal, engine="").for_engine(default)
    return replace(cal, engine=default)


@cache
def default_calibration() -> Calibration:
    """The calibration fitted to the measurements in ``suanli/perf/data``, set to the default
    engine profile (:data:`DEFAULT_ENGINE`)."""
    text = resources.files("suanli.perf").joinpath("data", CALIBRATION_FILE).read_text("utf-8")
    return calibration_from_dict(json.loads(text))
