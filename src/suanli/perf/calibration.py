"""Calibration: the efficiency factors and overheads that turn a roofline into step times.

The fitted values ship as package data (``data/calibration.json``) together with how they
were fitted; :func:`default_calibration` reads them. The fit itself lives in
:mod:`suanli.perf.fit`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from typing import Any

from suanli.errors import DataFileError

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True, slots=True)
class Calibration:
    """Efficiency factors (fractions of datasheet peaks) and fixed costs.

    ``mem_efficiency``          fraction of HBM bandwidth that weight-streaming GEMMs reach
    ``compute_efficiency``      fraction of the bf16 tensor peak that large GEMMs reach
    ``fp8_compute_efficiency``  fraction of the fp8 tensor peak that fp8 GEMMs reach
    ``attn_mem_efficiency``     fraction of HBM bandwidth reached reading the KV cache
    ``attn_units_per_sm``       decode attention work units per SM needed for full bandwidth
    ``attn_compute_efficiency`` fraction of tensor peak reached by attention (prefill)
    ``step_overhead_ms``        fixed cost per forward pass (sampling, scheduling, launch)
    ``layer_overhead_us``       fixed cost per transformer layer (kernel tails, norms, rope)
    ``prefill_overhead_ms``     extra fixed cost per prefill (request set-up, no CUDA graph)
    ``prefill_layer_overhead_us`` extra per-layer cost in prefill (kernel launches)
    ``roofline_sharpness``      p in (mem^p + compute^p)^(1/p) per operator group
    ``allreduce_efficiency``    fraction of per-direction link bandwidth an all-reduce reaches
    ``allreduce_latency_us``    fixed latency per all-reduce
    ``runtime_overhead_gb``     memory per GPU beyond weights and KV (CUDA context, workspace)
    ``int4_dequant_factor``     extra compute per weight-only int4 GEMM relative to bf16
    ``split_kv``                the engine splits each sequence's KV cache across thread blocks
                                in decode attention (flash-decoding, as vLLM, SGLang and
                                TensorRT-LLM do); when False, occupancy limits small batches
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
    source: str = "defaults (not fitted)"

    def with_params(self, **params: float | bool) -> Calibration:
        """A copy with some parameters replaced."""
        values = asdict(self)
        values.update(params)
        return Calibration(**values)

    def with_source(self, source: str) -> Calibration:
        """A copy with a new provenance note."""
        values = asdict(self)
        values["source"] = source
        return Calibration(**values)

    def params(self) -> dict[str, float]:
        """The numeric parameters as a dict."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("source", "split_kv")
        }


def calibration_from_dict(raw: dict[str, Any], *, path: str = CALIBRATION_FILE) -> Calibration:
    """Build a :class:`Calibration` from the JSON document's ``params`` and ``source``."""
    params = raw.get("params")
    if not isinstance(params, dict):
        raise DataFileError("missing object", path=path, field="params")
    known = {f.name for f in fields(Calibration)} - {"source", "split_kv"}
    values: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            raise DataFileError(f"unknown parameter {key!r}", path=path, field=key)
        if not isinstance(value, (int, float)) or value < 0:
            raise DataFileError(f"expected a number >= 0, got {value!r}", path=path, field=key)
        values[key] = float(value)
    values["source"] = str(raw.get("source", "package data"))
    return Calibration(**values)


@cache
def default_calibration() -> Calibration:
    """The calibration fitted to the measurements in ``suanli/perf/data``."""
    text = resources.files("suanli.perf").joinpath("data", CALIBRATION_FILE).read_text("utf-8")
    return calibration_from_dict(json.loads(text))
