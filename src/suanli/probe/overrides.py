"""Turn a verification record into GPU figures the performance model can use.

The performance model applies its calibrated efficiencies to *datasheet* peaks, so a
measured figure is handed over as the datasheet-equivalent peak that explains it:

    peak_f = measured_f / typical_f

with ``typical_f`` the fraction a healthy card reaches with the probe's method
(:data:`suanli.probe.verdict.BANDS`). A healthy card therefore keeps about its datasheet
figure and a card throttled to half its bandwidth gets half, and the model's efficiency is
not counted twice. The median over the record's GPUs of one catalog model is used.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from typing import Any

from suanli.catalog.gpus import Gpu
from suanli.probe.record import check_record
from suanli.probe.verdict import BANDS

#: Record figure -> the Gpu field it overrides.
FIELDS = {
    "hbm_copy_tb_s": "hbm_tb_s",
    "bf16_matmul_tflops": "bf16_tflops",
    "fp8_matmul_tflops": "fp8_tflops",
}


def measured_peaks(record: Mapping[str, Any], gpu_name: str) -> dict[str, float]:
    """Datasheet-equivalent figures (Gpu field -> value) for the record's ``gpu_name`` GPUs.

    Empty when the record holds no measured GPU of that catalog name; the record's hash is
    checked first (an edited record raises DataFileError).
    """
    check_record(dict(record))
    values: dict[str, list[float]] = {field: [] for field in FIELDS.values()}
    for entry in record["gpus"]:
        if (entry.get("identification") or {}).get("claimed") != gpu_name:
            continue
        for m in entry.get("measurements", []):
            field = FIELDS.get(m.get("name", ""))
            if field and m.get("value"):
                values[field].append(float(m["value"]) / BANDS[m["name"]].typical)
    return {field: statistics.median(v) for field, v in values.items() if v}


def measured_gpu(gpu: Gpu, record: Mapping[str, Any]) -> Gpu:
    """``gpu`` with its HBM bandwidth and bf16/fp8 peaks replaced by what ``record`` measured
    on GPUs claiming to be ``gpu`` (unchanged where nothing was measured)."""
    peaks = measured_peaks(record, gpu.name)
    if not gpu.supports_fp8:
        peaks.pop("fp8_tflops", None)
    if not peaks:
        return gpu
    note = f"{gpu.note}; measured by suanli probe {record.get('created_at', '')}".strip("; ")
    return dataclasses.replace(
        gpu,
        note=note,
        hbm_tb_s=round(peaks.get("hbm_tb_s", gpu.hbm_tb_s), 4),
        bf16_tflops=round(peaks.get("bf16_tflops", gpu.bf16_tflops), 4),
        fp8_tflops=round(peaks.get("fp8_tflops", gpu.fp8_tflops), 4),
    )
