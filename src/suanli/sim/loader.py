"""Scenario YAML: the built-in ``china-2025`` (package data) or a user's file.

Every error names the file, the item (``sites[2] zhongwei``) and the field
(``inventory.H100-SXM``), so a typo in a long scenario is found at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanli import catalog
from suanli.catalog.traces import BUILTIN_TRACES
from suanli.errors import DataFileError, NotFound
from suanli.sim.scenario import (
    BatchSpec,
    GivenProfile,
    MarketSpec,
    Scenario,
    ServedWorkload,
    SiteSpec,
    TrainingSpec,
)

BUILTIN_SCENARIOS = {"china-2025": "china-2025.yaml"}


def builtin_scenario_text(name: str) -> str:
    """The YAML text of a built-in scenario."""
    if name not in BUILTIN_SCENARIOS:
        raise NotFound(f"unknown scenario {name!r}", suggestions=sorted(BUILTIN_SCENARIOS))
    return (
        resources.files("suanli.sim")
        .joinpath("data", BUILTIN_SCENARIOS[name])
        .read_text(encoding="utf-8")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario YAML file by path."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_SCENARIOS:
        return parse_scenario(builtin_scenario_text(name_or_path), path=name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise NotFound(
            f"no scenario file or built-in scenario named {str(name_or_path)!r}",
            suggestions=sorted(BUILTIN_SCENARIOS),
        )
    return parse_scenario(path.read_text(encoding="utf-8"), path=str(path))


class _Reader:
    """Typed access to one YAML mapping, raising errors that name file, item and field."""

    def __init__(self, data: Any, path: str, item: str, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise DataFileError("expected a mapping", path=path, item=item, field=prefix or None)
        self.data = data
        self.path = path
        self.item = item
        self.prefix = prefix

    def fail(self, key: str, message: str, hint: str | None = None) -> DataFileError:
        return DataFileError(
            message, path=self.path, item=self.item, field=self.prefix + key, hint=hint
        )

    def number(
        self, key: str, default: float | None = None, *, low: float = 0.0, high: float = math.inf
    ) -> float:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "is required")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"{value!r} is not a number")
        number = float(value)
        if not (low <= number <= high) or math.isnan(number):
            upper = "" if high == math.inf else f" and <= {high:g}"
            raise self.fail(key, f"{number:g} is out of range: must be >= {low:g}{upper}")
        return number

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"{value!r} is not a non-empty string")
        return value.strip()

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, "expected a mapping")
        return value

    def sequence(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "expected a list")
        return value

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.fail(
                    str(key), "is not a known field", hint="Allowed: " + ", ".join(sorted(allowed))
                )


def _gpu_name(reader: _Reader, key: str, name: Any) -> str:
    try:
        return catalog.gpu(str(name)).name
    except NotFound as exc:
        raise reader.fail(key, f"unknown GPU {name!r}", hint=exc.hint) from None


def _site(path: str, index: int, raw: Any) -> SiteSpec:
    item = f"sites[{index}]"
    if isinstance(raw, Mapping) and "id" in raw:
        item += f" {raw['id']}"
    r = _Reader(raw, path, item)
    r.check_keys({"id", "inventory", "ask_cny_per_gpu_hour", "ask_factor", "base_load", "source"})
    site_id = r.text("id")
    try:
        site_id = catalog.site(site_id).id
    except NotFound as exc:
        raise r.fail("id", f"unknown site {site_id!r}", hint=exc.hint) from None
    inventory: dict[str, int] = {}
    for name, count in r.mapping("inventory").items():
        gpu = _gpu_name(r, f"inventory.{name}", name)
        if isinstance(count, bool) or not isinstance(count, int):
            raise r.fail(f"inventory.{name}", f"{count!r} is not a whole number of GPUs")
        if count < 0:
            raise r.fail(f"inventory.{name}", f"{count} GPUs: inventory must be >= 0")
        inventory[gpu] = count
    factor = r.number("ask_factor", 1.0, low=0.01, high=100.0)
    asks: dict[str, float] = {}
    explicit = _Reader(r.mapping("ask_cny_per_gpu_hour"), path, item, "ask_cny_per_gpu_hour.")
    for name in explicit.data:
        asks[_gpu_name(explicit, str(name), name)] = explicit.number(str(name), low=0.01)
    for gpu in inventory:
        if gpu not in asks:
            try:
                asks[gpu] = catalog.reference_price(gpu).cny_per_gpu_hour * factor
            except NotFound:
                raise r.fail(
                    f"ask_cny_per_gpu_hour.{gpu}",
                    f"no reference price for {gpu}",
                    hint="Give the ask explicitly.",
                ) from None
    return SiteSpec(
        id=site_id,
        inventory=inventory,
        ask_cny_per_gpu_hour=asks,
        base_load=r.number("base_load", 0.0, high=1.0),
        source=r.text("source", "") if r.data.get("source") else "",
    )


def _profile(r: _Reader, gpu: str, raw: Any) -> GivenProfile:
    p = _Reader(raw, r.path, r.item, f"profiles.{gpu}.")
    p.check_keys(
        {
            "gpus_per_replica",
            "max_batch",
            "rps",
            "prefill_ms_per_1k_tokens",
            "prefill_fixed_ms",
            "step_ms_at_batch_1",
            "step_ms_per_sequence",
        }
    )
    return GivenProfile(
        gpu=gpu,
        gpus_per_replica=int(p.number("gpus_per_replica", low=1, high=64)),
        max_batch=int(p.number("max_batch", low=1)),
        rps=p.number("rps", 0.0),
        prefill_ms_per_1k_tokens=p.number("prefill_ms_per_1k_tokens", low=0.0),
        prefill_fixed_ms=p.number("prefill_fixed_ms", 5.0),
        step_ms_at_batch_1=p.number("step_ms_at_batch_1", low=0.01),
        step_ms_per_sequence=p.number("step_ms_per_sequence", 0.0),
        source=f"{r.path} (given)",
    )


def _workload(path: str, index: int, raw: Any) -> ServedWorkload:
    item = f"workloads[{index}]"
    if isinstance(raw, Mapping) and "name" in raw:
        item += f" {raw['name']}"
    r = _Reader(raw, path, item)
    r.check_keys(
        {
            "name",
            "model",
            "trace",
            "requests_per_day",
            "ttft_p95_ms",
            "tpot_p95_ms",
            "precision",
            "max_price_cny_per_gpu_hour",
            "profiles",
            "calls_per_task",
            "task_p95_ms",
            "source",
        }
    )
    trace = r.text("trace")
    if trace not in BUILTIN_TRACES:
        raise r.fail(
            "trace",
            f"unknown trace {trace!r}",
            hint="Use one of: " + ", ".join(sorted(BUILTIN_TRACES)),
        )
    precision = r.text("precision", "bf16")
    if precision not in ("bf16", "fp8", "int4"):
        raise r.fail("precision", f"{precision!r} is not bf16, fp8 or int4")
    profiles = {}
    for name, spec in r.mapping("profiles").items():
        gpu = _gpu_name(r, f"profiles.{name}", name)
        profiles[gpu] = _profile(r, gpu, spec)
    calls = r.number("calls_per_task", 1, low=1, high=100)
    if calls != int(calls):
        raise r.fail("calls_per_task", f"{calls:g} is not a whole number of calls")
    return ServedWorkload(
        name=r.text("name"),
        model=r.text("model"),
        trace=trace,
        requests_per_day=r.number("requests_per_day", low=0.0),
        ttft_p95_ms=r.number("ttft_p95_ms", low=1.0),
        tpot_p95_ms=r.number("tpot_p95_ms", low=0.1),
        precision=precision,
        max_price_cny_per_gpu_hour=r.number("max_price_cny_per_gpu_hour", 40.0, low=0.01),
        profiles=profiles,
        calls_per_task=int(calls),
        task_p95_ms=r.number("task_p95_ms", 0.0),
        source=r.text("source", "") if r.data.get("source") else "",
    )


def parse_scenario(text: str, *, path: str = "<scenario>") -> Scenario:
    """Parse and validate scenario YAML (see ``examples/scenario.yaml`` for the format)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFileError(f"not valid YAML: {exc}", path=path) from None
    top = _Reader(data, path, "scenario")
    top.check_keys(
        {
            "name",
            "description",
            "sources",
            "request_scale",
            "diurnal",
            "buyers",
            "market",
            "cities",
            "sites",
            "workloads",
            "batch",
            "training",
            "network",
        }
    )
    sites = tuple(_site(path, i, raw) for i, raw in enumerate(top.sequence("sites")))
    if not sites:
        raise top.fail("sites", "needs at least one site")
    ids = [s.id for s in sites]
    for i, sid in enumerate(ids):
        if sid in ids[:i]:
            raise DataFileError(
                f"site {sid} is listed twice", path=path, item=f"sites[{i}] {sid}", field="id"
            )
    cities: dict[str, float] = {}
    city_reader = _Reader(top.mapping("cities"), path, "cities")
    for name in city_reader.data:
        try:
            cid = catalog.city(str(name)).id
        except NotFound as exc:
            raise city_reader.fail(str(name), f"unknown city {name!r}", hint=exc.hint) from None
        cities[cid] = city_reader.number(str(name), low=0.0)
    if not cities or sum(cities.values()) <= 0:
        raise top.fail("cities", "needs at least one city with a positive weight")
    workloads = tuple(_workload(path, i, raw) for i, raw in enumerate(top.sequence("workloads")))
    diurnal = _Reader(top.mapping("diurnal"), path, "diurnal")
    buyers = _Reader(top.mapping("buyers"), path, "buyers")
    market = _Reader(top.mapping("market"), path, "market")
    batch = _Reader(top.mapping("batch"), path, "batch")
    training = _Reader(top.mapping("training"), path, "training")
    network = _Reader(top.mapping("network"), path, "network")
    network.check_keys({"route_factor"})
    gangs = training.sequence("gang_sizes") or [64, 128, 256]
    if not all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in gangs):
        raise training.fail("gang_sizes", "must be a list of positive whole numbers")
    train_types = tuple(
        _gpu_name(training, "gpu_types", g)
        for g in (training.sequence("gpu_types") or ["H100-SXM", "H800-SXM", "A800-SXM-80GB"])
    )
    sources = top.sequence("sources")
    return Scenario(
        name=top.text("name"),
        description=str(data.get("description", "")).strip(),
        sites=sites,
        cities=cities,
        workloads=workloads,
        batch=BatchSpec(
            jobs_per_day=batch.number("jobs_per_day", 0.0),
            gpu_hours_mean=batch.number("gpu_hours_mean", 200.0, low=0.01),
            max_gpus=int(batch.number("max_gpus", 64, low=1)),
            deadline_h=batch.number("deadline_h", 48.0, low=1.0),
            min_memory_gb=batch.number("min_memory_gb", 40.0),
            max_price_cny_per_gpu_hour=batch.number("max_price_cny_per_gpu_hour", 15.0, low=0.01),
        ),
        training=TrainingSpec(
            jobs_per_day=training.number("jobs_per_day", 0.0),
            gang_sizes=tuple(int(g) for g in gangs),
            hours_mean=training.number("hours_mean", 72.0, low=1.0),
            gpu_types=train_types,
            max_price_cny_per_gpu_hour=training.number(
                "max_price_cny_per_gpu_hour", 30.0, low=0.01
            ),
        ),
        market=MarketSpec(
            target_utilization=market.number("target_utilization", 0.7, high=1.0),
            price_elasticity_per_day=market.number("price_elasticity_per_day", 0.05, high=5.0),
            price_floor_fraction=market.number("price_floor_fraction", 0.5, low=0.01, high=1.0),
            price_cap_fraction=market.number("price_cap_fraction", 2.0, low=1.0),
        ),
        request_scale=top.number("request_scale", 1.0, low=1e-6),
        diurnal_peak_hour=diurnal.number("peak_hour", 21.0, high=24.0),
        diurnal_trough_fraction=diurnal.number("trough_fraction", 0.3, high=1.0),
        comfort_rtt_ms=buyers.number("comfort_rtt_ms", 6.0),
        headroom=buyers.number("headroom", 0.15, high=0.9),
        sources=tuple(str(s) for s in sources),
        route_factor=network.number("route_factor", 1.5, low=1.0, high=10.0),
    )
