"""The reference catalogs: every row sourced, look-ups forgiving, unknowns explained."""

from __future__ import annotations

from typing import Any

import pytest

from suanli import catalog
from suanli.errors import NotFound


def test_every_row_carries_a_source() -> None:
    rows: list[Any] = [
        *catalog.gpus(),
        *catalog.sites(),
        *catalog.cities(),
        *catalog.rental_prices(),
    ]
    assert rows
    missing = [r for r in rows if not r.source.strip()]
    assert missing == []


@pytest.mark.parametrize("name", ["h100", "H100-SXM", "nvidia h100 80gb", "NVIDIA H100 80GB HBM3"])
def test_gpu_lookup_is_forgiving(name: str) -> None:
    assert catalog.gpu(name).name == "H100-SXM"


def test_sxm_and_pcie_stay_distinct() -> None:
    sxm, pcie = catalog.gpu("H100-SXM"), catalog.gpu("H100 PCIe")
    assert sxm.name != pcie.name
    assert (sxm.form_factor, pcie.form_factor) == ("SXM", "PCIe")
    assert pcie.hbm_tb_s < sxm.hbm_tb_s


def test_export_variants_say_what_is_cut() -> None:
    h800, a800, h20 = catalog.gpu("h800"), catalog.gpu("a800"), catalog.gpu("h20")
    assert h800.export_variant_of == "H100-SXM" and h800.nvlink_gb_s == 400
    assert a800.export_variant_of == "A100-SXM-80GB" and a800.nvlink_gb_s == 400
    assert h20.bf16_tflops < 0.2 * catalog.gpu("h100").bf16_tflops
    assert all(g.cut for g in (h800, a800, h20))


def test_dense_figures_not_sparse() -> None:
    # 1979 is H100's *sparse* bf16 figure; the catalog must hold the dense one.
    assert catalog.gpu("h100").bf16_tflops == 989


def test_unknown_gpu_lists_closest_matches() -> None:
    with pytest.raises(NotFound) as info:
        catalog.gpu("H10O")
    assert "H100-SXM" in info.value.suggestions
    assert info.value.hint and "H100" in info.value.hint


def test_fp8_support_follows_datasheet() -> None:
    assert catalog.gpu("h100").supports_fp8
    assert not catalog.gpu("a100").supports_fp8


def test_sites_cover_the_ten_hub_clusters() -> None:
    hubs = [s for s in catalog.sites() if s.role in ("east", "west")]
    assert len(hubs) == 10
    assert len({s.hub for s in hubs}) == 8
    assert {s.role for s in catalog.sites()} == {"east", "west", "metro", "central"}
    assert all(s.pue >= 1.0 and s.power_cny_per_kwh > 0 for s in catalog.sites())


def test_site_and_city_lookup() -> None:
    assert catalog.site("Gui'an").id == "guian"
    assert catalog.city("xi an").id == "xian"
    # Chongqing is both a city and a site; place() prefers the city.
    assert isinstance(catalog.place("chongqing"), catalog.City)
    with pytest.raises(NotFound):
        catalog.city("atlantis")


def test_reference_price_skips_peak() -> None:
    ref = catalog.reference_price("h100")
    assert ref.kind == "on-demand"
    assert ref.cny_per_gpu_hour == pytest.approx(12.8)
    assert catalog.reference_prices()["H20"] == pytest.approx(6.5)


def test_every_catalog_gpu_has_a_sourced_reference_price() -> None:
    prices = catalog.reference_prices()
    assert {g.name for g in catalog.gpus()} <= set(prices)
    for g in catalog.gpus():
        ref = catalog.reference_price(g.name)
        assert ref.cny_per_gpu_hour > 0 and ref.source and ref.date
    # H200 costs more per hour than the H100 it replaces, and less than a B200.
    assert prices["H100-SXM"] < prices["H200-SXM"] < prices["B200"]
