"""Detection: no tool, no driver, no GPU, a real nvidia-smi answer, and the fallbacks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from suanli.errors import Unavailable
from suanli.probe.detect import FULL_FIELDS, SHORT_FIELDS, detect, parse_query_csv
from tests.probe.conftest import H200_ROW, missing_runner, smi_runner


def test_no_nvidia_smi_and_no_torch_is_unavailable() -> None:
    with pytest.raises(Unavailable) as info:
        detect(missing_runner)
    assert info.value.context["reason"] == "no_tool"
    assert "nvidia-smi" in info.value.message
    assert info.value.hint


def test_driver_not_loaded_is_unavailable_with_reason() -> None:
    runner = smi_runner(
        [],
        status=9,
        stderr="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    )
    with pytest.raises(Unavailable) as info:
        detect(runner)
    assert info.value.context["reason"] == "no_driver"


def test_driver_without_devices_is_unavailable() -> None:
    runner = smi_runner(["No devices were found"], status=6)
    with pytest.raises(Unavailable) as info:
        detect(runner)
    assert info.value.context["reason"] == "no_gpu"


def test_parses_the_h200_answer() -> None:
    runner = smi_runner([H200_ROW])
    (gpu,) = detect(runner)
    assert gpu.name == "NVIDIA H200"
    assert gpu.memory_mib == 143771
    assert round(gpu.memory_gib, 1) == 140.4
    assert gpu.max_sm_clock_mhz == 1980
    assert gpu.power_limit_w == 700.0
    assert (gpu.pcie_gen, gpu.pcie_width) == (5, 16)
    assert gpu.compute_capability == "9.0"
    assert gpu.source == "nvidia-smi"
    assert runner.calls[0][1].startswith("--query-gpu=index,name")


def test_falls_back_to_the_short_field_list_on_an_old_driver() -> None:
    answers = iter(
        [
            (2, "", 'Field "compute_cap" is not a valid field to query.'),
            (0, "0, NVIDIA A800-SXM4-80GB, GPU-1, 81920, 470.82\n", ""),
        ]
    )

    def runner(args: Any) -> tuple[int, str, str]:
        return next(answers)

    (gpu,) = detect(runner)
    assert gpu.name == "NVIDIA A800-SXM4-80GB"
    assert gpu.driver_version == "470.82"
    assert gpu.max_sm_clock_mhz == 0  # not asked of the old driver


def test_not_available_fields_read_as_zero() -> None:
    row = "0, NVIDIA L20, GPU-2, 46068, [N/A], [N/A], [Not Supported], 275.00, 4, 16, 550.1, x, 8.9"
    (gpu,) = parse_query_csv(row, FULL_FIELDS)
    assert gpu.max_sm_clock_mhz == 0 and gpu.power_limit_w == 0.0
    assert gpu.default_power_limit_w == 275.0


def test_short_fields_parse() -> None:
    (gpu,) = parse_query_csv("1, NVIDIA H20, GPU-3, 97871, 535.1", SHORT_FIELDS)
    assert (gpu.index, gpu.name, gpu.memory_mib) == (1, "NVIDIA H20", 97871)


class _FakeNvml:
    NVML_CLOCK_SM = 1

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"580.1"

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return "GPU-abc"

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return SimpleNamespace(total=81559 * 2**20)

    def nvmlDeviceGetMaxClockInfo(self, h: int, kind: int) -> int:
        return 1980

    def nvmlDeviceGetPowerManagementLimit(self, h: int) -> int:
        return 350_000  # milliwatts: capped to half

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: int) -> int:
        return 700_000

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: int) -> int:
        raise RuntimeError("not supported")

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: int) -> int:
        return 16


def test_nvml_is_used_when_nvidia_smi_is_missing() -> None:
    (gpu,) = detect(missing_runner, nvml=_FakeNvml())
    assert gpu.source == "nvml"
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.power_limit_w == 350.0 and gpu.default_power_limit_w == 700.0
    assert gpu.pcie_gen == 0  # unsupported reading
    assert gpu.driver_version == "580.1"


def _fake_torch(count: int) -> Any:
    props = SimpleNamespace(
        name="NVIDIA H200",
        uuid="6ac39380-3100-f265-2c68-3d94223eac8b",
        total_memory=143771 * 2**20,
        multi_processor_count=132,
        major=9,
        minor=0,
    )
    cuda = SimpleNamespace(
        is_available=lambda: count > 0,
        device_count=lambda: count,
        get_device_properties=lambda i: props,
    )
    return SimpleNamespace(cuda=cuda)


def test_torch_adds_the_sm_count_matched_by_uuid() -> None:
    (gpu,) = detect(smi_runner([H200_ROW]), torch=_fake_torch(1))
    assert gpu.sm_count == 132
    assert gpu.source == "nvidia-smi"


def test_torch_alone_finds_the_gpu() -> None:
    (gpu,) = detect(missing_runner, torch=_fake_torch(1))
    assert (gpu.source, gpu.sm_count, gpu.compute_capability) == ("torch", 132, "9.0")


def test_torch_without_cuda_does_not_hide_the_missing_driver() -> None:
    with pytest.raises(Unavailable) as info:
        detect(missing_runner, torch=_fake_torch(0))
    assert info.value.context["reason"] == "no_tool"
