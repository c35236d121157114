"""CLI errors are one line at any width, piped or not (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("columns", [None, "40", "20"])
def test_error_is_one_line_with_a_long_path(tmp_path: Path, columns: str | None) -> None:
    deep = tmp_path.joinpath(*(["a-rather-long-folder-name-for-wrapping"] * 4))
    deep.mkdir(parents=True)
    missing = deep / "nope.yaml"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "suanli",
            "place",
            "--offers",
            str(missing),
            "--requests",
            str(missing),
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert str(missing) in error_lines[0] and error_lines[0].rstrip().endswith("not found")
