"""``suanli demo``: the main job on the embedded default."""

from __future__ import annotations

import typer

from suanli.cli.common import console


def demo_cmd() -> None:
    """Run the China 2025 market end to end and show the result."""
    from suanli.cli.catalog_cmd import gpus_cmd, show_latency_matrix, sites_cmd

    console.rule("Suanli demo: the China 2025 market")
    gpus_cmd(json_out=False)
    sites_cmd(json_out=False)
    show_latency_matrix()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
