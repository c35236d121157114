"""The ``suanli`` command: registers every command group and turns errors into one line.

Command modules import heavy libraries (FastAPI, SQLAlchemy, SciPy, OR-Tools, torch) inside
their functions, so ``suanli --help`` and light commands start fast and work where those
extras are missing.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from suanli.errors import SuanliError


class _SuanliGroup(TyperGroup):
    """Root group: any :class:`SuanliError` becomes one clear line and exit code 2."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context (typer keeps its click private)
        try:
            return super().invoke(ctx)
        except SuanliError as exc:
            from suanli.cli.common import err_console

            err_console.print(f"[bold red]error:[/] {exc.message}", markup=True, highlight=False)
            if exc.hint:
                err_console.print(f"To fix: {exc.hint}", markup=False, highlight=False)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    name="suanli",
    cls=_SuanliGroup,
    help="Suanli (算力): an exchange that turns idle GPUs into served AI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Each module defines `register(app)`; the list below is the whole CLI.
    from suanli.cli import (
        admin_cmd,
        bench_cmd,
        catalog_cmd,
        client_cmd,
        demo_cmd,
        gateway_cmd,
        index_cmd,
        perf_cmd,
        place_cmd,
        probe_cmd,
        seed_cmd,
        serve_cmd,
        simulate_cmd,
        size_cmd,
        trade_cmd,
    )

    for module in (
        catalog_cmd,
        demo_cmd,
        bench_cmd,
        index_cmd,
        perf_cmd,
        admin_cmd,
        serve_cmd,
        seed_cmd,
        client_cmd,
        gateway_cmd,
        trade_cmd,
        probe_cmd,
        size_cmd,
        simulate_cmd,
        place_cmd,
    ):
        module.register(app)


_register()


def run() -> None:
    """Console-script entry point."""
    app()
