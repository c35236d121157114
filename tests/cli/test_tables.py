"""Tables never cut a number and never run past the terminal, at 80 columns or 40, piped."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from suanli.cli import common
from suanli.cli.main import app

runner = CliRunner()


def _render(renderable: object, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


numbers = st.one_of(
    st.integers(-(10**9), 10**9), st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)
)
words = st.text(alphabet="abcdefghij -", min_size=1, max_size=30)


@given(
    n_rows=st.integers(1, 4),
    kinds=st.lists(st.booleans(), min_size=1, max_size=14),
    data=st.data(),
    width=st.sampled_from([40, 80]),
)
@settings(max_examples=60, deadline=None, derandomize=True, database=None)
def test_random_tables_keep_every_number_whole(
    n_rows: int, kinds: list[bool], data: st.DataObject, width: int
) -> None:
    columns = ["key", *[f"col {j} header" for j in range(len(kinds))]]
    rows = [
        [f"row{i}", *[data.draw(numbers if numeric else words) for numeric in kinds]]
        for i in range(n_rows)
    ]
    text = _render(common.table("t", columns, rows, width=width), width)
    flat = text.replace("\n", "")
    for row in rows:
        for value in row[1:]:
            if not isinstance(value, str):
                assert common._cell(value) in text, (common._cell(value), text)
    assert all(len(line) <= width for line in text.splitlines()), text
    assert flat  # something was drawn


@pytest.mark.parametrize("columns", ["40", "80"])
def test_latency_matrix_numbers_are_whole(columns: str) -> None:
    from suanli import catalog, geo

    result = runner.invoke(app, ["latency", "--matrix"], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    cities = [c.id for c in catalog.cities()]
    sites = [s.id for s in catalog.sites()]
    matrix = geo.rtt_matrix(cities, sites)
    for value in matrix.ravel():
        assert common._cell(float(round(value, 1))) in result.output
    for site in sites:
        assert site in result.output
    assert all(len(line) <= int(columns) for line in result.output.splitlines())


@pytest.mark.parametrize("command", [["catalog", "gpus"], ["catalog", "sites"]])
def test_catalog_tables_fit_80_columns(command: list[str]) -> None:
    result = runner.invoke(app, command, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert "…" not in result.output  # nothing cut with an ellipsis
