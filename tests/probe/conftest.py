"""Fakes for the probe tests: ``nvidia-smi`` runners, recorded measurements, the H200 record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from suanli.probe.detect import FULL_FIELDS
from suanli.probe.measure import Measurement

FIXTURES = Path(__file__).parent / "fixtures"

H200_ROW = (
    "0, NVIDIA H200, GPU-6ac39380-3100-f265-2c68-3d94223eac8b, 143771, 1980, 3201, 700.00, "
    "700.00, 5, 16, 580.159.04, 00000000:00:06.0, 9.0"
)


def smi_runner(rows: Sequence[str], *, status: int = 0, stderr: str = "") -> Any:
    """A runner answering ``nvidia-smi --query-gpu`` with ``rows``; records its calls."""
    calls: list[list[str]] = []

    def run(args: Sequence[str]) -> tuple[int, str, str]:
        calls.append(list(args))
        assert args[0] == "nvidia-smi"
        return status, "\n".join(rows) + "\n", stderr

    run.calls = calls  # type: ignore[attr-defined]
    return run


def missing_runner(args: Sequence[str]) -> tuple[int, str, str]:
    raise FileNotFoundError(args[0])


def figures(**values: float) -> list[Measurement]:
    """Recorded measurements, e.g. figures(bf16_matmul_tflops=777, hbm_copy_tb_s=4.24)."""
    from suanli.probe.measure import FIGURES

    return [Measurement(name, value, FIGURES[name]) for name, value in values.items()]


@pytest.fixture
def h200_record() -> dict[str, Any]:
    """The record `suanli probe --json` wrote on the H200 device machine."""
    data: dict[str, Any] = json.loads((FIXTURES / "h200_probe.json").read_text())
    return data


assert len(H200_ROW.split(",")) == len(FULL_FIELDS)
