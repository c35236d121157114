"""Weight and KV-cache precisions, tensor-parallel degrees and the checks every estimate
shares.

The KV cache has its own precision, separate from the weights': fp8 deployments commonly keep
the cache in fp8 too (half the bytes per cached token), while vLLM's default keeps it in the
model's 16-bit dtype. :func:`resolve_kv_precision` picks the default from the checkpoint's
quantization config and the serving engine's profile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast, get_args

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import InvalidRequest

if TYPE_CHECKING:
    from suanli.perf.calibration import Calibration

Precision = Literal["bf16", "fp8", "int4", "mxfp4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
KvPrecision = Literal["bf16", "fp8"]
KV_PRECISIONS: tuple[str, ...] = get_args(KvPrecision)
TP_DEGREES = (1, 2, 4, 8)
KV_BYTES_PER_VALUE = 2.0  # a bf16 KV cache; see kv_bytes_per_value for the others


def weight_bytes_per_param(precision: str) -> float:
    """bf16 2, fp8 1, int4 weight-only 0.5 plus one bf16 scale per group of 128 weights,
    MXFP4 (OCP microscaling) 0.5 plus one 8-bit scale per block of 32 weights."""
    return {"bf16": 2.0, "fp8": 1.0, "int4": 0.5 + 2.0 / 128, "mxfp4": 0.5 + 1.0 / 32}[precision]


def kv_bytes_per_value(kv_precision: str) -> float:
    """Bytes per cached key or value element: bf16 2, fp8 1."""
    return {"bf16": 2.0, "fp8": 1.0}[kv_precision]


def resolve_precision(model: ModelArch, precision: str | None) -> Precision:
    """The weights' precision: as given, else the checkpoint's declared one (checked later
    by :func:`validate`)."""
    return cast("Precision", precision if precision is not None else model.weight_precision)


def resolve_kv_precision(
    model: ModelArch, precision: str, kv_precision: str | None, calibration: Calibration
) -> KvPrecision:
    """The KV cache's precision: as given; else fp8 when the checkpoint declares an fp8 KV
    cache, or when the weights are fp8 and the engine keeps an fp8 cache with fp8 weights
    (its profile's ``fp8_kv_with_fp8_weights``); else bf16."""
    if kv_precision is not None:
        return cast("KvPrecision", kv_precision)
    if model.kv_precision == "fp8":
        return "fp8"
    if precision == "fp8" and calibration.fp8_kv_with_fp8_weights:
        return "fp8"
    return "bf16"


def validate(
    model: ModelArch, gpu: Gpu, *, tp: int, precision: str, kv_precision: str = "bf16"
) -> None:
    """Reject combinations the model cannot represent; messages name the field."""
    if precision not in PRECISIONS:
        raise InvalidRequest(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}",
            field="precision",
        )
    if kv_precision not in KV_PRECISIONS:
        raise InvalidRequest(
            f"unknown KV-cache precision {kv_precision!r}; choose one of "
            f"{', '.join(KV_PRECISIONS)}",
            field="kv_precision",
        )
    if precision == "fp8" and not gpu.supports_fp8:
        raise InvalidRequest(
            f"{gpu.name} has no FP8 tensor cores",
            field="precision",
            hint="Use --precision bf16 or int4 on this GPU.",
        )
    if isinstance(tp, bool) or tp not in TP_DEGREES:
        raise InvalidRequest(
            f"tensor parallelism must be one of 1, 2, 4, 8, got {tp!r}", field="tp"
        )
    if model.num_heads % tp:
        raise InvalidRequest(
            f"{model.name} has {model.num_heads} attention heads, not divisible by tp={tp}",
            field="tp",
        )
