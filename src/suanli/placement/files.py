"""Offers and requests from YAML, JSON or CSV text (the formats are in the README).

YAML/JSON: a mapping with an ``offers`` (or ``requests``) list, or the bare list.
CSV: one offer per row; one request per row, except that the rows of a serving request with
the same ``id`` are its options (one per GPU type). List cells use ``|``
(``H800|H100``), regions ``city:weight|city:weight``.
Every error names the file, the item and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import yaml

from suanli.errors import DataFileError
from suanli.placement.model import (
    BatchDemand,
    Demand,
    GangDemand,
    Offer,
    ServeDemand,
    ServeOption,
)

OFFER_FIELDS = (
    "id",
    "site",
    "gpu",
    "count",
    "gpus_per_node",
    "price_cny_per_gpu_hour",
    "fabric",
    "start_h",
    "end_h",
    "interruptible",
    "seller",
)
REQUEST_KINDS = ("serve", "gang", "batch")


def _format(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".json"):
        return "json"
    return "yaml"


def _load(text: str, path: str, fmt: str, key: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise DataFileError(
                "a CSV needs a header row with at least an id column",
                path=path,
                hint=f"See examples/{key}.csv.",
            )
        return [
            {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
            for row in reader
        ]
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"not valid {fmt.upper()}: {exc}", path=path) from None
    if isinstance(data, Mapping):
        if key not in data:
            raise DataFileError(
                f"expected a top-level '{key}' list",
                path=path,
                field=key,
                hint=f"Write '{key}:' followed by a list, as in examples/{key}.yaml.",
            )
        data = data[key]
    if not isinstance(data, list) or not all(isinstance(x, Mapping) for x in data):
        raise DataFileError(
            f"'{key}' must be a list of mappings",
            path=path,
            field=key,
            hint=f"See examples/{key}.yaml.",
        )
    return [dict(x) for x in data]


class _Row:
    """Typed access to one item's fields with errors naming file, item and field."""

    def __init__(self, raw: Mapping[str, Any], path: str, item: str) -> None:
        self.raw, self.path, self.item = raw, path, item

    def error(self, field: str, message: str, hint: str | None = None) -> DataFileError:
        return DataFileError(message, path=self.path, item=self.item, field=field, hint=hint)

    def has(self, field: str) -> bool:
        return self.raw.get(field) not in (None, "")

    def text(self, field: str, default: str | None = None) -> str:
        if not self.has(field):
            if default is None:
                raise self.error(field, "is required")
            return default
        return str(self.raw[field])

    def number(self, field: str, default: float | None = None) -> float:
        if not self.has(field):
            if default is None:
                raise self.error(field, "is required")
            return default
        value = self.raw[field]
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise self.error(field, f"{value!r} is not a number") from None
        if math.isnan(out):
            raise self.error(field, "is not a number")
        return out

    def whole(self, field: str, default: int | None = None) -> int:
        value = self.number(field, None if default is None else float(default))
        if value != int(value):
            raise self.error(field, f"{value:g} is not a whole number")
        return int(value)

    def flag(self, field: str, default: bool) -> bool:
        if not self.has(field):
            return default
        value = self.raw[field]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise self.error(field, f"{value!r} is not true or false")

    def names(self, field: str) -> tuple[str, ...]:
        if not self.has(field):
            raise self.error(field, "is required (a list of GPU types)")
        value = self.raw[field]
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split("|") if v.strip())
        if isinstance(value, list):
            return tuple(str(v) for v in value)
        raise self.error(field, "must be a list")


def parse_offers(text: str, *, path: str = "<offers>", fmt: str | None = None) -> list[Offer]:
    """Offers from YAML, JSON or CSV text."""
    rows = _load(text, path, _format(path, fmt), "offers")
    out: list[Offer] = []
    for i, raw in enumerate(rows):
        r = _Row(raw, path, f"offers[{i}]" + (f" ({raw['id']})" if raw.get("id") else ""))
        unknown = set(raw) - set(OFFER_FIELDS)
        if unknown:
            raise r.error(
                sorted(unknown)[0], "unknown field", hint=f"Known: {', '.join(OFFER_FIELDS)}"
            )
        count = r.whole("count")
        if count < 0:
            raise r.error("count", f"must be >= 0, got {count}")
        node = r.whole("gpus_per_node", 8)
        if node < 1:
            raise r.error("gpus_per_node", f"must be >= 1, got {node}")
        price = r.number("price_cny_per_gpu_hour")
        if price < 0 or not math.isfinite(price):
            raise r.error("price_cny_per_gpu_hour", f"must be a finite number >= 0, got {price}")
        start, end = r.number("start_h", 0.0), r.number("end_h", math.inf)
        if not end > start:
            raise r.error("end_h", f"must be after start_h ({start:g})")
        out.append(
            Offer(
                id=r.text("id"),
                site=r.text("site"),
                gpu=r.text("gpu"),
                count=count,
                gpus_per_node=node,
                price_cny_per_gpu_hour=price,
                fabric=r.text("fabric", "nvlink-ib"),
                start_h=start,
                end_h=end,
                interruptible=r.flag("interruptible", False),
                seller=r.text("seller", ""),
            )
        )
    return out


def _regions(r: _Row, value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, str):
        pairs = []
        for part in value.split("|"):
            city, _, weight = part.partition(":")
            pairs.append((city.strip(), weight.strip() or "1"))
        value = pairs
    elif isinstance(value, Mapping):
        value = list(value.items())
    elif isinstance(value, list):
        value = [(v, 1.0) if isinstance(v, str) else tuple(v) for v in value]
    else:
        raise r.error("regions", "must be a mapping city: weight, a list, or 'city:w|city:w'")
    out = []
    for city, weight in value:
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise r.error("regions", f"weight {weight!r} of {city!r} is not a number") from None
        if not w > 0:
            raise r.error("regions", f"weight of {city!r} must be > 0")
        out.append((str(city), w))
    if not out:
        raise r.error("regions", "needs at least one city")
    return tuple(out)


def _budgets(r: _Row, value: Any, regions: tuple[tuple[str, float], ...]) -> dict[str, float]:
    if isinstance(value, Mapping):
        budgets = {}
        for city, _ in regions:
            if city not in value:
                raise r.error("rtt_budget_ms", f"no budget for region {city!r}")
            budgets[city] = float(value[city])
        return budgets
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise r.error("rtt_budget_ms", f"{value!r} is not a number of ms") from None
    return {city: budget for city, _ in regions}


def _serve_option(r: _Row, top: _Row) -> ServeOption:
    src = r if r.has("regions") else top
    if not src.has("regions"):
        raise r.error("regions", "a serving request needs user regions")
    regions = _regions(src, src.raw["regions"])
    bsrc = r if r.has("rtt_budget_ms") else top
    if not bsrc.has("rtt_budget_ms"):
        raise r.error("rtt_budget_ms", "a serving request needs an RTT budget")
    return ServeOption(
        gpu=r.text("gpu"),
        gpus_per_replica=r.whole("gpus_per_replica", 1),
        replicas=r.whole("replicas"),
        regions=regions,
        rtt_budget_ms=_budgets(bsrc, bsrc.raw["rtt_budget_ms"], regions),
        max_price_cny_per_gpu_hour=r.number(
            "max_price_cny_per_gpu_hour", top.number("max_price_cny_per_gpu_hour", math.inf)
        ),
    )


def parse_requests(text: str, *, path: str = "<requests>", fmt: str | None = None) -> list[Demand]:
    """Requests (serving, gang, batch) from YAML, JSON or CSV text."""
    kind_fmt = _format(path, fmt)
    rows = _load(text, path, kind_fmt, "requests")
    out: list[Demand] = []
    csv_serve: dict[str, int] = {}
    for i, raw in enumerate(rows):
        r = _Row(raw, path, f"requests[{i}]" + (f" ({raw['id']})" if raw.get("id") else ""))
        kind = r.text("kind", "serve").lower()
        if kind not in REQUEST_KINDS:
            raise r.error("kind", f"unknown kind {kind!r}", hint="Use serve, gang or batch.")
        rid = r.text("id")
        price = r.number("max_price_cny_per_gpu_hour", math.inf)
        if kind == "serve":
            if kind_fmt == "csv":
                option = _serve_option(r, r)
                if rid in csv_serve:
                    j = csv_serve[rid]
                    prev = out[j]
                    assert isinstance(prev, ServeDemand)
                    out[j] = ServeDemand(prev.id, (*prev.options, option), prev.allow_split)
                    continue
                csv_serve[rid] = len(out)
                out.append(ServeDemand(rid, (option,), allow_split=r.flag("allow_split", True)))
                continue
            options_raw = raw.get("options")
            if not isinstance(options_raw, list):
                raise r.error(
                    "options", "a serving request needs a list of options (one per GPU type)"
                )
            options = []
            for j, opt in enumerate(options_raw):
                if not isinstance(opt, Mapping):
                    raise r.error(f"options[{j}]", "must be a mapping")
                options.append(_serve_option(_Row(opt, path, f"{r.item} options[{j}]"), r))
            out.append(
                ServeDemand(
                    rid,
                    tuple(options),
                    allow_split=r.flag("allow_split", True),
                    allow_interruptible=r.flag("allow_interruptible", False),
                    hours=r.number("hours", 1.0),
                )
            )
        elif kind == "gang":
            out.append(
                GangDemand(
                    id=rid,
                    gpus=r.whole("gpus"),
                    gpu_types=r.names("gpu_types"),
                    min_interconnect_gb_s=r.number("min_interconnect_gb_s", 0.0),
                    max_price_cny_per_gpu_hour=price,
                    hours=r.number("hours", 1.0),
                    fabrics=r.names("fabrics") if r.has("fabrics") else (),
                    min_memory_gb=r.number("min_memory_gb", 0.0),
                    allow_interruptible=r.flag("allow_interruptible", False),
                )
            )
        else:
            out.append(
                BatchDemand(
                    id=rid,
                    gpu_hours=r.number("gpu_hours"),
                    gpu_types=r.names("gpu_types"),
                    deadline_h=r.number("deadline_h"),
                    max_price_cny_per_gpu_hour=price,
                    min_memory_gb=r.number("min_memory_gb", 0.0),
                    allow_interruptible=r.flag("allow_interruptible", True),
                )
            )
    return out
