"""Scenario YAML: the built-in scenario, the documented example, and errors that name
the file, the item and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.errors import DataFileError, NotFound
from suanli.sim import load_scenario, parse_scenario

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenario.yaml"


def test_builtin_china_2025_loads_with_sources() -> None:
    sc = load_scenario("china-2025")
    assert len(sc.sites) == 15
    assert len(sc.cities) == 10
    assert {"H100-SXM", "H800-SXM", "A800-SXM-80GB"} <= set(sc.gpu_types)
    assert sc.sources
    zhongwei = next(s for s in sc.sites if s.id == "zhongwei")
    assert zhongwei.ask_cny_per_gpu_hour["H100-SXM"] == pytest.approx(12.8 * 0.95)


def test_documented_example_loads(small_file: Path) -> None:
    sc = load_scenario(EXAMPLE)
    assert sc.workloads and sc.sites
    assert load_scenario(small_file).name == "small"


def _broken(small_yaml: str, old: str, new: str) -> str:
    assert old in small_yaml
    return small_yaml.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "item", "field"),
    [
        ("id: zhangjiakou", "id: atlantis", "sites[1] atlantis", "id"),
        (
            "inventory: {H100-SXM: 32}",
            "inventory: {H100-SXM: -4}",
            "sites[1] zhangjiakou",
            "inventory.H100-SXM",
        ),
        (
            "inventory: {H100-SXM: 32}",
            "inventory: {H900: 4}",
            "sites[1] zhangjiakou",
            "inventory.H900",
        ),
        ("base_load: 0.25", "base_load: 1.5", "sites[1] zhangjiakou", "base_load"),
        (
            "requests_per_day: 3000",
            "requests_per_day: many",
            "workloads[0] chat",
            "requests_per_day",
        ),
        ("trace: azure-conv", "trace: azure-chat", "workloads[0] chat", "trace"),
        (
            "cities: {beijing: 2, shanghai: 1}",
            "cities: {beijing: 2, gotham: 1}",
            "cities",
            "gotham",
        ),
        (
            "    base_load: 0.5\n",
            "    base_load: 0.5\n    color: red\n",
            "sites[0] beijing-metro",
            "color",
        ),
    ],
)
def test_errors_name_file_item_and_field(
    small_yaml: str, old: str, new: str, item: str, field: str
) -> None:
    with pytest.raises(DataFileError) as info:
        parse_scenario(_broken(small_yaml, old, new), path="my-scenario.yaml")
    err = info.value
    assert err.path == "my-scenario.yaml"
    assert err.item == item
    assert err.field == field
    assert "my-scenario.yaml" in err.message and item in err.message and field in err.message


def test_not_yaml_and_missing_sites_are_rejected() -> None:
    with pytest.raises(DataFileError, match="not valid YAML"):
        parse_scenario("name: [unclosed", path="x.yaml")
    with pytest.raises(DataFileError, match="at least one site"):
        parse_scenario("name: empty\ncities: {beijing: 1}\n", path="x.yaml")


def test_unknown_scenario_name_suggests_builtins(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        load_scenario("china-2026")
    assert "china-2025" in info.value.suggestions
