"""Match a detected GPU to the catalog by its reported name, then check what the driver says
(memory, SM count, clock, power limit) against that catalog entry.

A relabelled card usually passes the name (that is the point of relabelling) and is caught
by the measurements (see :mod:`suanli.probe.verdict`); memory and SM count catch the lazy
fakes, and a power limit set far under the TDP explains a slow but genuine card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.catalog import normalise
from suanli.catalog.gpus import Gpu
from suanli.probe.detect import DetectedGpu

#: Relative tolerances of the identity checks.
MEMORY_TOLERANCE = 0.07  # the driver reports GiB slightly under the marketed size
CLOCK_TOLERANCE = 0.12
POWER_CAP_FRACTION = 0.8  # an enforced limit under 80% of the TDP is worth a warning


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison of a reported figure with the catalog's."""

    name: str
    reported: float | str
    expected: float | str
    status: str  # "ok" | "mismatch" | "warning" | "unknown"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Identification:
    """The catalog entry a GPU claims to be, and how its reported figures compare."""

    claimed: str | None
    checks: tuple[Check, ...]

    @property
    def mismatches(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "mismatch")


def match_name(reported: str, catalog: Sequence[Gpu]) -> Gpu | None:
    """The catalog GPU whose name or alias is the longest prefix of the reported name.

    ``NVIDIA H200`` -> H200-SXM (not H20), ``NVIDIA A800-SXM4-80GB`` -> A800-SXM-80GB,
    ``NVIDIA H100 PCIe`` -> H100-PCIe. Returns None when nothing matches.
    """
    key = normalise(reported)
    if not key:
        return None
    best: tuple[int, Gpu] | None = None
    for gpu in catalog:
        for alias in (gpu.name, *gpu.aliases):
            a = normalise(alias)
            if a and key.startswith(a) and (best is None or len(a) > best[0]):
                best = (len(a), gpu)
    return best[1] if best else None


def _relative(reported: float, expected: float) -> float:
    return abs(reported - expected) / expected


def identify(detected: DetectedGpu, catalog: Sequence[Gpu]) -> Identification:
    """Name match plus the identity checks a driver can answer without measuring."""
    gpu = match_name(detected.name, catalog)
    if gpu is None:
        return Identification(
            claimed=None,
            checks=(Check("name", detected.name, "", "unknown", "not in the Suanli catalog"),),
        )
    checks = [Check("name", detected.name, gpu.name, "ok")]
    if detected.memory_mib > 0:
        gib = round(detected.memory_gib, 1)
        ok = _relative(gib, gpu.memory_gb) <= MEMORY_TOLERANCE
        checks.append(
            Check(
                "memory_gib",
                gib,
                gpu.memory_gb,
                "ok" if ok else "mismatch",
                "" if ok else f"{gib} GiB reported, {gpu.name} has {gpu.memory_gb:g} GB",
            )
        )
    if detected.sm_count and gpu.sm_count:
        ok = detected.sm_count == gpu.sm_count
        checks.append(
            Check(
                "sm_count",
                detected.sm_count,
                gpu.sm_count,
                "ok" if ok else "mismatch",
                "" if ok else f"{detected.sm_count} SMs, {gpu.name} has {gpu.sm_count}",
            )
        )
    if detected.max_sm_clock_mhz and gpu.boost_clock_mhz:
        off = _relative(detected.max_sm_clock_mhz, gpu.boost_clock_mhz)
        checks.append(
            Check(
                "max_sm_clock_mhz",
                detected.max_sm_clock_mhz,
                gpu.boost_clock_mhz,
                "ok" if off <= CLOCK_TOLERANCE else "warning",
                "" if off <= CLOCK_TOLERANCE else "maximum SM clock differs from the datasheet",
            )
        )
    limit = detected.power_limit_w
    if limit and gpu.tdp_w:
        capped = limit < POWER_CAP_FRACTION * gpu.tdp_w
        checks.append(
            Check(
                "power_limit_w",
                limit,
                gpu.tdp_w,
                "warning" if capped else "ok",
                f"power capped to {limit:.0f} W of {gpu.tdp_w:.0f} W TDP" if capped else "",
            )
        )
    return Identification(claimed=gpu.name, checks=tuple(checks))
