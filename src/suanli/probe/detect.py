"""Find this machine's NVIDIA GPUs: ``nvidia-smi`` first, then NVML (``pynvml``), then PyTorch.

Each source fills what it can; a field it cannot read stays 0 or "". When no source finds a
GPU the caller gets :class:`~suanli.errors.Unavailable` saying whether the driver, the tool
or the GPUs themselves are missing. The command runner is injectable so the tests can play
a machine without ``nvidia-smi``, one whose driver is not loaded, and one with GPUs.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from suanli.errors import Unavailable

#: Runs a command and returns (exit status, stdout, stderr); raises FileNotFoundError when
#: the program is not installed.
Runner = Callable[[Sequence[str]], tuple[int, str, str]]

#: Fields asked of ``nvidia-smi --query-gpu``; older drivers lack some, so a short set is
#: the fallback.
FULL_FIELDS = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "clocks.max.sm",
    "clocks.max.memory",
    "power.limit",
    "power.default_limit",
    "pcie.link.gen.max",
    "pcie.link.width.max",
    "driver_version",
    "pci.bus_id",
    "compute_cap",
)
SHORT_FIELDS = ("index", "name", "uuid", "memory.total", "driver_version")


@dataclass(frozen=True, slots=True)
class DetectedGpu:
    """One GPU as the driver reports it (before any measurement)."""

    index: int
    name: str
    uuid: str = ""
    memory_mib: float = 0.0
    sm_count: int = 0
    max_sm_clock_mhz: int = 0
    max_memory_clock_mhz: int = 0
    power_limit_w: float = 0.0  # enforced now
    default_power_limit_w: float = 0.0
    pcie_gen: int = 0
    pcie_width: int = 0
    driver_version: str = ""
    pci_bus_id: str = ""
    compute_capability: str = ""
    source: str = ""

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024.0


def subprocess_runner(args: Sequence[str]) -> tuple[int, str, str]:
    """The real runner: runs ``args`` with a 30 s limit."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", f"{args[0]} did not answer within 30 s"
    return done.returncode, done.stdout, done.stderr


def _num(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return 0.0  # "[N/A]", "[Not Supported]", ""


def parse_query_csv(text: str, fields: Sequence[str]) -> list[DetectedGpu]:
    """Parse ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` output."""
    found: list[DetectedGpu] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(fields):
            continue
        row = dict(zip(fields, cells, strict=True))
        found.append(
            DetectedGpu(
                index=int(_num(row.get("index", "0"))),
                name=row.get("name", ""),
                uuid=row.get("uuid", ""),
                memory_mib=_num(row.get("memory.total", "")),
                max_sm_clock_mhz=int(_num(row.get("clocks.max.sm", ""))),
                max_memory_clock_mhz=int(_num(row.get("clocks.max.memory", ""))),
                power_limit_w=_num(row.get("power.limit", "")),
                default_power_limit_w=_num(row.get("power.default_limit", "")),
                pcie_gen=int(_num(row.get("pcie.link.gen.max", ""))),
                pcie_width=int(_num(row.get("pcie.link.width.max", ""))),
                driver_version=row.get("driver_version", ""),
                pci_bus_id=row.get("pci.bus_id", ""),
                compute_capability=row.get("compute_cap", ""),
                source="nvidia-smi",
            )
        )
    return found


_NO_DRIVER_MARKS = ("couldn't communicate with the nvidia driver", "driver/library version")


def detect_nvidia_smi(runner: Runner) -> list[DetectedGpu]:
    """GPUs from ``nvidia-smi``; raises Unavailable (with the reason) when it finds none.

    FileNotFoundError propagates so the caller can try another source.
    """
    last_error = ""
    for fields in (FULL_FIELDS, SHORT_FIELDS):
        status, out, err = runner(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]
        )
        text = (out + "\n" + err).lower()
        if any(mark in text for mark in _NO_DRIVER_MARKS):
            raise Unavailable(
                "nvidia-smi is installed but cannot talk to the NVIDIA driver",
                hint="Load the NVIDIA kernel driver (check `nvidia-smi` by hand) and run "
                "`suanli probe` again.",
                context={"reason": "no_driver", "stderr": (err or out).strip()[:300]},
            )
        if "no devices were found" in text:
            raise Unavailable(
                "the NVIDIA driver is loaded but reports no GPU",
                hint="Check that the GPUs are visible to this machine or container "
                "(NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES).",
                context={"reason": "no_gpu"},
            )
        if status == 0:
            return parse_query_csv(out, fields)
        last_error = (err or out).strip()
    raise Unavailable(
        f"nvidia-smi failed: {last_error[:200] or 'no output'}",
        hint="Run `nvidia-smi` by hand to see what the driver says.",
        context={"reason": "nvidia_smi_failed"},
    )


def _nvml_value(fn: Callable[..., Any], *args: Any) -> float:
    """An NVML reading, or 0 where the device does not support it."""
    try:
        return float(fn(*args))
    except Exception:
        return 0.0


def detect_nvml(nvml: Any) -> list[DetectedGpu]:
    """GPUs through an imported ``pynvml`` module (passed in so tests can fake it)."""
    nvml.nvmlInit()
    try:
        version = nvml.nvmlSystemGetDriverVersion()
        driver = version.decode() if isinstance(version, bytes) else str(version)
        found = []
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            uuid = nvml.nvmlDeviceGetUUID(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)

            found.append(
                DetectedGpu(
                    index=i,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
                    memory_mib=memory.total / 2**20,
                    max_sm_clock_mhz=int(
                        _nvml_value(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM)
                    ),
                    power_limit_w=_nvml_value(nvml.nvmlDeviceGetPowerManagementLimit, handle)
                    / 1000.0,
                    default_power_limit_w=_nvml_value(
                        nvml.nvmlDeviceGetPowerManagementDefaultLimit, handle
                    )
                    / 1000.0,
                    pcie_gen=int(_nvml_value(nvml.nvmlDeviceGetMaxPcieLinkGeneration, handle)),
                    pcie_width=int(_nvml_value(nvml.nvmlDeviceGetMaxPcieLinkWidth, handle)),
                    driver_version=driver,
                    source="nvml",
                )
            )
        return found
    finally:
        nvml.nvmlShutdown()


def _norm_uuid(text: str) -> str:
    return text.lower().removeprefix("gpu-").replace("-", "")


def enrich_with_torch(gpus: list[DetectedGpu], torch: Any) -> list[DetectedGpu]:
    """Add what only CUDA knows (SM count, compute capability), matched by UUID, else index."""
    if torch is None or not torch.cuda.is_available():
        return gpus
    props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    by_uuid = {_norm_uuid(str(getattr(p, "uuid", ""))): p for p in props}
    enriched = []
    for gpu in gpus:
        prop = by_uuid.get(_norm_uuid(gpu.uuid)) if gpu.uuid else None
        if prop is None and gpu.index < len(props):
            prop = props[gpu.index]
        if prop is None:
            enriched.append(gpu)
            continue
        enriched.append(
            replace(
                gpu,
                sm_count=int(prop.multi_processor_count),
                compute_capability=gpu.compute_capability or f"{prop.major}.{prop.minor}",
                memory_mib=gpu.memory_mib or prop.total_memory / 2**20,
            )
        )
    return enriched


def detect_torch(torch: Any) -> list[DetectedGpu]:
    """GPUs as PyTorch's CUDA sees them (the last resort: no clocks or power limits)."""
    if torch is None or not torch.cuda.is_available():
        return []
    found = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        found.append(
            DetectedGpu(
                index=i,
                name=str(p.name),
                uuid=str(getattr(p, "uuid", "")),
                memory_mib=p.total_memory / 2**20,
                sm_count=int(p.multi_processor_count),
                compute_capability=f"{p.major}.{p.minor}",
                source="torch",
            )
        )
    return found


def detect(
    runner: Runner = subprocess_runner,
    *,
    nvml: Any = None,
    torch: Any = None,
) -> list[DetectedGpu]:
    """Every NVIDIA GPU of this machine, from the best source available.

    Tries ``nvidia-smi``, then ``nvml`` (an imported ``pynvml`` or None), then ``torch``
    (an imported module or None), and enriches with ``torch`` where it is given. Raises
    :class:`Unavailable` when none of them finds a GPU; ``context["reason"]`` is one of
    ``no_driver``, ``no_gpu``, ``no_tool``, ``nvidia_smi_failed``.
    """
    found: list[DetectedGpu] = []
    driver_error: Unavailable | None = None
    try:
        found = detect_nvidia_smi(runner)
    except FileNotFoundError:
        pass
    except Unavailable as exc:
        driver_error = exc
    if not found and nvml is not None:
        try:
            found = detect_nvml(nvml)
        except Exception:
            found = []
    # a broken CUDA install must not hide what nvidia-smi found
    with contextlib.suppress(Exception):
        found = enrich_with_torch(found, torch) if found else detect_torch(torch)
    if found:
        return found
    if driver_error is not None:
        raise driver_error
    raise Unavailable(
        "no NVIDIA GPU found: nvidia-smi is not installed and neither NVML nor PyTorch "
        "sees a CUDA device",
        hint="Run the probe on a GPU node with the NVIDIA driver installed "
        "(`nvidia-smi` should list the GPUs); `pip install suanli[probe]` adds PyTorch.",
        context={"reason": "no_tool"},
    )
