"""The built-in Azure traces load with the published shape; bad trace files are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from suanli.catalog.traces import builtin_trace, load_trace, parse_trace
from suanli.errors import DataFileError, NotFound


def test_conversation_trace_matches_published_statistics() -> None:
    t = builtin_trace("azure-conv")
    assert t.size == 19_366
    assert 3000 < t.duration_s < 3700
    assert np.all(np.diff(t.arrival_s) >= 0)
    assert t.prompt_tokens.mean() == pytest.approx(1155, rel=0.01)
    assert t.output_tokens.mean() == pytest.approx(211, rel=0.01)


def test_plain_trace_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n1.5,100,10\n0.5,200,20\n")
    t = load_trace(path)
    assert list(t.arrival_s) == [0.0, 1.0]
    assert list(t.prompt_tokens) == [200, 100]


def test_bad_trace_names_the_line() -> None:
    with pytest.raises(DataFileError, match="line 3"):
        parse_trace("arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,x,1\n", name="t.csv")
    with pytest.raises(DataFileError, match="columns"):
        parse_trace("a,b,c\n", name="t.csv")


def test_unknown_trace() -> None:
    with pytest.raises(NotFound):
        load_trace("no-such-trace")
