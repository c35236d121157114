"""Performance model: decode and prefill time, memory fit, calibration.

Sizing of serving, batch and training requests lives in :mod:`suanli.perf.sizing`.
"""

from suanli.perf.calibration import Calibration, default_calibration
from suanli.perf.memory import MemoryFit, max_tokens_in_memory, memory_fit
from suanli.perf.precision import KV_PRECISIONS, PRECISIONS, TP_DEGREES, KvPrecision, Precision
from suanli.perf.step_model import (
    DecodeEstimate,
    PrefillEstimate,
    decode_step,
    expected_experts_touched,
    prefill,
)

__all__ = [
    "KV_PRECISIONS",
    "PRECISIONS",
    "TP_DEGREES",
    "Calibration",
    "DecodeEstimate",
    "KvPrecision",
    "MemoryFit",
    "Precision",
    "PrefillEstimate",
    "decode_step",
    "default_calibration",
    "expected_experts_touched",
    "max_tokens_in_memory",
    "memory_fit",
    "prefill",
]
