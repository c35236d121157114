"""Helpers shared by CLI modules: consoles, JSON output, tables."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# soft_wrap: a message is one line whatever the width; a terminal may fold it, Rich never does.
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, paths, tuples and NumPy scalars into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return to_jsonable(value.item())  # NumPy scalar
    if callable(getattr(value, "tolist", None)):  # NumPy array
        return to_jsonable(value.tolist())
    return value


def hour_iso(hours: float) -> str:
    """A moment on the exchange clock (hours since 1970, UTC) as ISO 8601: 2026-11-29T20:00Z."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(hours * 3600.0, UTC).strftime("%Y-%m-%dT%H:%MZ")


def money(cny: float, digits: int = 2) -> str:
    """Yuan with the sign and thousands separators: ¥12,345.60."""
    return f"{'-' if cny < 0 else ''}¥{abs(cny):,.{digits}f}"


def print_json(value: Any) -> None:
    """Print one JSON document on stdout and nothing else."""
    print(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table with string cells (floats shown compactly)."""
    t = Table(title=title, header_style="bold cyan")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*(_cell(v) for v in row))
    return t


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)
