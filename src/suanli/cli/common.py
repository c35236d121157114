"""Helpers shared by CLI modules: consoles, JSON output, tables."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table

# soft_wrap: a line of text is one line whatever the width (a terminal may fold it, Rich never
# does), so piped output and logs keep sentences and figures whole; tables still fit the width.
console = Console(soft_wrap=True)
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


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: int = 1,
    width: int | None = None,
) -> RenderableType:
    """A rich table with string cells (floats shown compactly) that never cuts a number.

    Numeric columns are as wide as their widest number (and header word); text columns
    wrap. When the numbers alone do not fit ``width`` (default: the terminal's,
    ``console.width``), the columns are split over several tables, each repeating the first
    ``keys`` columns.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [_min_width(j, columns[j], cells) for j in range(len(columns))]
    keys = min(keys, len(columns))
    groups = _column_groups(widths, keys, width or console.width)
    if len(groups) == 1:
        return _table(title, columns, cells, list(range(len(columns))), widths)
    parts = [
        _table(f"{title} ({i + 1}/{len(groups)})", columns, cells, [*range(keys), *g], widths)
        for i, g in enumerate(groups)
    ]
    return Group(*parts)


def _numeric(text: str) -> bool:
    return bool(text) and (
        text == "-"
        or text.lstrip("+-")
        .replace(",", "")
        .replace(".", "")
        .replace("%", "")
        .replace("e", "")
        .replace("x", "")
        .strip()
        .isdigit()
    )


def _min_width(j: int, header: str, cells: list[list[str]]) -> int:
    """The narrowest a column may get: numbers whole, words of text whole up to 12 wide."""
    values = [row[j] for row in cells if j < len(row)]
    header_word = max((len(w) for w in header.split()), default=1)
    if values and all(_numeric(v) for v in values):
        return max(max(len(v) for v in values), header_word)
    longest = max((len(w) for v in values for w in v.split()), default=1)
    return max(min(max(longest, header_word), 12), 1)


_BORDER = 3  # "│ " before a cell and the space after it


def _column_groups(widths: list[int], keys: int, width: int) -> list[list[int]]:
    """Columns after the first ``keys``, in runs whose minimum widths fit in ``width``."""
    base = 1 + sum(w + _BORDER for w in widths[:keys])
    groups: list[list[int]] = [[]]
    used = base
    for j in range(keys, len(widths)):
        need = widths[j] + _BORDER
        if groups[-1] and used + need > width:
            groups.append([])
            used = base
        groups[-1].append(j)
        used += need
    return groups


def _table(
    title: str, columns: Sequence[str], cells: list[list[str]], show: list[int], widths: list[int]
) -> Table:
    t = Table(title=title, header_style="bold cyan")
    for j in show:
        numeric = bool(cells) and all(_numeric(row[j]) for row in cells if j < len(row))
        # a numeric column is exactly as wide as its widest number; text columns share the rest
        t.add_column(
            columns[j],
            justify="right" if numeric else "left",
            width=widths[j] if numeric else None,
            min_width=None if numeric else widths[j],
            overflow="fold",
        )
    for row in cells:
        t.add_row(*(row[j] if j < len(row) else "" for j in show))
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
