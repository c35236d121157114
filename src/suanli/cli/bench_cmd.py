"""``suanli bench ...``: the project's own benchmarks, each printing one JSON document.

Each benchmark compares against a baseline measured in the same run.
"""

from __future__ import annotations

import typer

bench_app = typer.Typer(
    help="Benchmarks (placement, api, market, sim); print JSON.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


# Benchmark commands are added below, one function per benchmark, each importing its
# implementation lazily: @bench_app.command("placement") etc.
