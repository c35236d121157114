"""The README's examples that need no server run as written (through Typer's CliRunner)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = {"catalog", "latency", "perf", "size", "place"}


def readme_commands() -> list[str]:
    """`suanli ...` lines from the README's ``sh`` blocks, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            line = re.sub(r"^(\.venv/bin/)", "", line)
            if not line.startswith("suanli "):
                continue
            words = shlex.split(line)
            if words[1] not in RUNNABLE or "--export" in words or "--refit" in words:
                continue
            commands.append(line)
    return commands


def test_readme_has_runnable_examples() -> None:
    groups = {shlex.split(c)[1] for c in readme_commands()}
    assert groups == RUNNABLE


@pytest.mark.parametrize("command", readme_commands())
def test_readme_example_runs(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert result.output.strip()


def test_readme_lists_every_setting() -> None:
    from suanli.settings import settings_table

    assert settings_table() in (ROOT / "README.md").read_text(encoding="utf-8")
