"""Helpers shared by CLI modules: consoles, JSON output, tables."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
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

    Every column gets an explicit width: a numeric column exactly its widest number (and
    header word); text columns share what is left, never below their longest word, and wrap.
    When the columns do not fit ``width`` (default: the terminal's, ``console.width``) even
    so, they are split over several tables, each repeating the first ``keys`` columns.
    """
    total = width or console.width
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [_is_numeric_column(j, cells) for j in range(len(columns))]
    least = [_min_width(j, columns[j], cells, numeric[j]) for j in range(len(columns))]
    keys = min(keys, len(columns))
    groups = _column_groups(least, keys, total)
    parts = []
    for i, group in enumerate(groups):
        show = [*range(keys), *group]
        name = title if len(groups) == 1 else f"{title} ({i + 1}/{len(groups)})"
        widths = _fit(show, columns, cells, numeric, least, total)
        parts.append(_table(name, columns, cells, show, widths, numeric))
    return _Wrapped(parts[0] if len(parts) == 1 else Group(*parts))


class _Wrapped:
    """A table laid out with text wrapping on, also on a console that soft-wraps prose
    (whose no-wrap option would make every cell claim its full length)."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update(no_wrap=False, overflow="fold"))


def _numeric(text: str) -> bool:
    stripped = text.lstrip("+-").replace(",", "").replace(".", "").replace("%", "")
    return text == "-" or stripped.replace("e", "").replace("x", "").strip().isdigit()


def _is_numeric_column(j: int, cells: list[list[str]]) -> bool:
    values = [row[j] for row in cells if j < len(row)]
    return bool(values) and all(v and _numeric(v) for v in values)


def _min_width(j: int, header: str, cells: list[list[str]], numeric: bool) -> int:
    """The narrowest a column may get: its widest number, or its longest word of text."""
    values = [row[j] for row in cells if j < len(row)]
    header_word = max((len(w) for w in header.split()), default=1)
    if numeric:
        return max(max(len(v) for v in values), header_word)
    longest = max((len(w) for v in values for w in v.split()), default=1)
    return max(longest, header_word, 1)


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


def _fit(
    show: list[int],
    columns: Sequence[str],
    cells: list[list[str]],
    numeric: list[bool],
    least: list[int],
    total: int,
) -> dict[int, int]:
    """Widths of the shown columns: numbers fixed, text from its natural width down towards
    its least, the widest first, until the table fits ``total``."""
    widths = {j: least[j] for j in show}
    text = [j for j in show if not numeric[j]]
    for j in text:
        natural = max([len(columns[j])] + [len(row[j]) for row in cells if j < len(row)])
        widths[j] = max(least[j], natural)
    room = total - 1 - _BORDER * len(show)
    while sum(widths.values()) > room:
        shrinkable = [j for j in text if widths[j] > least[j]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda j: widths[j])
        widths[widest] -= 1
    return widths


def _table(
    title: str,
    columns: Sequence[str],
    cells: list[list[str]],
    show: list[int],
    widths: dict[int, int],
    numeric: list[bool],
) -> Table:
    t = Table(title=title, header_style="bold cyan")
    for j in show:
        t.add_column(
            columns[j],
            justify="right" if numeric[j] else "left",
            width=widths[j],
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
