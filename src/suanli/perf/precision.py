"""Weight precisions, tensor-parallel degrees and the checks every estimate shares."""

from __future__ import annotations

from typing import Literal, get_args

from suanli.catalog.gpus import Gpu
from suanli.catalog.hf_config import ModelArch
from suanli.errors import InvalidRequest

Precision = Literal["bf16", "fp8", "int4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
TP_DEGREES = (1, 2, 4, 8)
KV_BYTES_PER_VALUE = 2.0  # the KV cache stays in bf16 whatever the weights' precision


def weight_bytes_per_param(precision: str) -> float:
    """bf16 2, fp8 1, int4 weight-only 0.5 plus one bf16 scale per group of 128 weights."""
    return {"bf16": 2.0, "fp8": 1.0, "int4": 0.5 + 2.0 / 128}[precision]


def validate(model: ModelArch, gpu: Gpu, *, tp: int, precision: str) -> None:
    """Reject combinations the model cannot represent; messages name the field."""
    if precision not in PRECISIONS:
        raise InvalidRequest(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}",
            field="precision",
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
