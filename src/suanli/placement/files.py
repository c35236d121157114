"""Offers and requests from YAML, JSON or CSV text (the formats are in the README).

YAML/JSON: a mapping with an ``offers`` (or ``requests``) list, or the bare list.
CSV: one offer per row; one request per row, except that the rows of a serving request with
the same ``id`` are its options (one per GPU type). List cells use ``|``
(``H800|H100``), regions ``city:weight|city:weight``.
Every item is checked by the strict models of :mod:`suanli.inputs` (the same ones the API
uses): whole numbers are whole, numbers finite and bounded, unknown fields refused. Every
error names the file, the item and the field, in one line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from suanli.errors import DataFileError
from suanli.inputs import (
    BatchItem,
    Budgets,
    GangItem,
    OfferItem,
    Regions,
    ServeItem,
    ServeOptionItem,
    ServeRowItem,
    StrictInput,
)
from suanli.placement.model import (
    BatchDemand,
    Demand,
    GangDemand,
    Offer,
    ServeDemand,
    ServeOption,
)

OFFER_FIELDS = tuple(OfferItem.model_fields)
REQUEST_KINDS = ("serve", "gang", "batch")
_LIST_CELLS = ("gpu_types", "fabrics")
M = TypeVar("M", bound=StrictInput)
_UNION_TAGS = ("constrained-", "function-")


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


def _where(loc: tuple[int | str, ...]) -> str:
    """``options[0].replicas`` from pydantic's location (union member tags left out)."""
    out = ""
    for part in loc:
        if isinstance(part, str) and (
            "[" in part or part.startswith(("constrained-", "function-"))
        ):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check(model: type[M], raw: Mapping[str, Any], path: str, item: str, *, lax: bool) -> M:
    """``raw`` validated by ``model`` (lax for CSV, whose cells are all text); a
    DataFileError naming file, item and field otherwise."""
    try:
        return model.model_validate(dict(raw), strict=not lax)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _where(tuple(error["loc"]))
        if error["type"] == "extra_forbidden":
            message = "unknown field"
            hint = f"Known fields: {', '.join(model.model_fields)}."
        elif error["type"] == "missing":
            message, hint = "is required", None
        else:
            shown = repr(error.get("input"))
            message = f"{error['msg']} (got {shown[:40]})"
            hint = None
        raise DataFileError(message, path=path, item=item, field=field or None, hint=hint) from None


def _csv_cells(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row's list cells (``H800|H100``) and regions (``city:w|city:w``) as values."""
    row = dict(raw)
    for name in _LIST_CELLS:
        if isinstance(row.get(name), str):
            row[name] = [v.strip() for v in row[name].split("|") if v.strip()]
    if isinstance(row.get("regions"), str):
        regions: dict[str, str] = {}
        for part in row["regions"].split("|"):
            city, _, weight = part.partition(":")
            regions[city.strip()] = weight.strip() or "1"
        row["regions"] = regions
    return row


def _item_name(key: str, i: int, raw: Mapping[str, Any]) -> str:
    rid = raw.get("id")
    shown = isinstance(rid, str) and rid.isprintable() and 0 < len(rid) <= 80
    return f"{key}[{i}]" + (f" ({rid})" if shown else "")


def parse_offers(text: str, *, path: str = "<offers>", fmt: str | None = None) -> list[Offer]:
    """Offers from YAML, JSON or CSV text."""
    kind_fmt = _format(path, fmt)
    rows = _load(text, path, kind_fmt, "offers")
    out: list[Offer] = []
    for i, raw in enumerate(rows):
        lax = kind_fmt == "csv"
        o = _check(OfferItem, raw, path, _item_name("offers", i, raw), lax=lax)
        out.append(
            Offer(
                id=o.id,
                site=o.site,
                gpu=o.gpu,
                count=o.count,
                gpus_per_node=o.gpus_per_node,
                price_cny_per_gpu_hour=o.price_cny_per_gpu_hour,
                fabric=o.fabric,
                start_h=o.start_h,
                end_h=math.inf if o.end_h is None else o.end_h,
                interruptible=o.interruptible,
                seller=o.seller,
            )
        )
    return out


def _regions(value: Regions) -> tuple[tuple[str, float], ...]:
    return tuple((city, float(w)) for city, w in value.items())


def _serve_option(
    opt: ServeOptionItem,
    top_regions: Regions | None,
    top_budget: Budgets | None,
    top_price: float | None,
    path: str,
    item: str,
) -> ServeOption:
    regions_in = opt.regions if opt.regions is not None else top_regions
    if regions_in is None:
        raise DataFileError(
            "a serving request needs user regions", path=path, item=item, field="regions"
        )
    regions = _regions(regions_in)
    budget = opt.rtt_budget_ms if opt.rtt_budget_ms is not None else top_budget
    if budget is None:
        raise DataFileError(
            "a serving request needs an RTT budget", path=path, item=item, field="rtt_budget_ms"
        )
    if isinstance(budget, dict):
        missing = [city for city, _ in regions if city not in budget]
        if missing:
            raise DataFileError(
                f"no budget for region {missing[0]!r}",
                path=path,
                item=item,
                field="rtt_budget_ms",
            )
        budgets = {city: float(budget[city]) for city, _ in regions}
    else:
        budgets = {city: float(budget) for city, _ in regions}
    price = opt.max_price_cny_per_gpu_hour
    if price is None:
        price = top_price
    return ServeOption(
        gpu=opt.gpu,
        gpus_per_replica=opt.gpus_per_replica,
        replicas=opt.replicas,
        regions=regions,
        rtt_budget_ms=budgets,
        max_price_cny_per_gpu_hour=math.inf if price is None else price,
    )


def _price(value: float | None) -> float:
    return math.inf if value is None else value


def parse_requests(text: str, *, path: str = "<requests>", fmt: str | None = None) -> list[Demand]:
    """Requests (serving, gang, batch) from YAML, JSON or CSV text."""
    kind_fmt = _format(path, fmt)
    lax = kind_fmt == "csv"
    rows = _load(text, path, kind_fmt, "requests")
    out: list[Demand] = []
    csv_serve: dict[str, int] = {}
    for i, raw in enumerate(rows):
        item = _item_name("requests", i, raw)
        if lax:
            raw = _csv_cells(raw)
        kind = raw.get("kind", "serve")
        if kind not in REQUEST_KINDS:
            raise DataFileError(
                f"unknown kind {kind!r}",
                path=path,
                item=item,
                field="kind",
                hint="Use serve, gang or batch.",
            )
        if kind == "serve" and lax:
            row = _check(ServeRowItem, raw, path, item, lax=True)
            option = _serve_option(row, None, None, None, path, item)
            if row.id in csv_serve:
                j = csv_serve[row.id]
                prev = out[j]
                assert isinstance(prev, ServeDemand)
                out[j] = replace(prev, options=(*prev.options, option))
                continue
            csv_serve[row.id] = len(out)
            out.append(
                ServeDemand(
                    row.id,
                    (option,),
                    allow_split=row.allow_split,
                    allow_interruptible=row.allow_interruptible,
                    start_h=row.start_h,
                    hours=row.hours,
                )
            )
        elif kind == "serve":
            s = _check(ServeItem, raw, path, item, lax=False)
            options = tuple(
                _serve_option(
                    opt,
                    s.regions,
                    s.rtt_budget_ms,
                    s.max_price_cny_per_gpu_hour,
                    path,
                    f"{item} options[{j}]",
                )
                for j, opt in enumerate(s.options)
            )
            out.append(
                ServeDemand(
                    s.id,
                    options,
                    allow_split=s.allow_split,
                    allow_interruptible=s.allow_interruptible,
                    start_h=s.start_h,
                    hours=s.hours,
                )
            )
        elif kind == "gang":
            g = _check(GangItem, raw, path, item, lax=lax)
            out.append(
                GangDemand(
                    id=g.id,
                    gpus=g.gpus,
                    gpu_types=tuple(g.gpu_types),
                    min_interconnect_gb_s=g.min_interconnect_gb_s,
                    max_price_cny_per_gpu_hour=_price(g.max_price_cny_per_gpu_hour),
                    hours=g.hours,
                    start_h=g.start_h,
                    fabrics=tuple(g.fabrics),
                    min_memory_gb=g.min_memory_gb,
                    allow_interruptible=g.allow_interruptible,
                )
            )
        else:
            b = _check(BatchItem, raw, path, item, lax=lax)
            out.append(
                BatchDemand(
                    id=b.id,
                    gpu_hours=b.gpu_hours,
                    gpu_types=tuple(b.gpu_types),
                    deadline_h=b.deadline_h,
                    max_price_cny_per_gpu_hour=_price(b.max_price_cny_per_gpu_hour),
                    start_h=b.start_h,
                    min_memory_gb=b.min_memory_gb,
                    allow_interruptible=b.allow_interruptible,
                )
            )
    return out
