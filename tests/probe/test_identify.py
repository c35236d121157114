"""Identification against the catalog: names as drivers print them, and the identity checks."""

from __future__ import annotations

import pytest

from suanli.catalog import gpus
from suanli.probe.detect import DetectedGpu
from suanli.probe.identify import identify, match_name


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("NVIDIA H200", "H200-SXM"),
        ("NVIDIA H20", "H20"),
        ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("NVIDIA H100 PCIe", "H100-PCIe"),
        ("NVIDIA H800", "H800-SXM"),
        ("NVIDIA A800-SXM4-80GB", "A800-SXM-80GB"),
        ("NVIDIA A100-SXM4-80GB", "A100-SXM-80GB"),
        ("NVIDIA L20", "L20"),
        ("NVIDIA GeForce RTX 4090", "RTX-4090"),
    ],
)
def test_driver_names_match_the_catalog(reported: str, expected: str) -> None:
    match = match_name(reported, gpus())
    assert match is not None and match.name == expected


def test_unknown_name_is_not_matched() -> None:
    assert match_name("Tesla K80", gpus()) is None
    ident = identify(DetectedGpu(0, "Tesla K80"), gpus())
    assert ident.claimed is None
    assert ident.checks[0].status == "unknown"


def test_h200_as_the_device_reported_it_passes_every_check() -> None:
    detected = DetectedGpu(
        0,
        "NVIDIA H200",
        memory_mib=143771,
        sm_count=132,
        max_sm_clock_mhz=1980,
        power_limit_w=700.0,
    )
    ident = identify(detected, gpus())
    assert ident.claimed == "H200-SXM"
    assert {c.name: c.status for c in ident.checks} == {
        "name": "ok",
        "memory_gib": "ok",
        "sm_count": "ok",
        "max_sm_clock_mhz": "ok",
        "power_limit_w": "ok",
    }
    assert ident.mismatches == ()


def test_wrong_memory_and_sm_count_are_mismatches() -> None:
    # An "H100" with 96 GB and 78 SMs is an H20 with a new name.
    detected = DetectedGpu(0, "NVIDIA H100 80GB HBM3", memory_mib=97871, sm_count=78)
    ident = identify(detected, gpus())
    assert ident.claimed == "H100-SXM"
    assert {c.name for c in ident.mismatches} == {"memory_gib", "sm_count"}


def test_a_power_cap_is_a_warning_not_a_mismatch() -> None:
    detected = DetectedGpu(0, "NVIDIA H100 80GB HBM3", memory_mib=81559, power_limit_w=350.0)
    ident = identify(detected, gpus())
    power = next(c for c in ident.checks if c.name == "power_limit_w")
    assert power.status == "warning" and "350 W of 700 W" in power.note
    assert ident.mismatches == ()
