"""``suanli demo``: the main job: a short China 2025 market under every policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.common import console, table


def _show_market(scenario_name: str) -> None:
    """A compact view of the scenario's sites and GPUs (the catalogs, briefly)."""
    from suanli import catalog
    from suanli.sim import load_scenario

    sc = load_scenario(scenario_name)
    rows = []
    for spec in sc.sites:
        s = catalog.site(spec.id)
        gpus = ", ".join(f"{g} {n:,}" for g, n in spec.inventory.items())
        asks = min(spec.ask_cny_per_gpu_hour.values()) if spec.ask_cny_per_gpu_hour else 0.0
        rows.append([s.name, s.region, s.role, gpus, f"{spec.base_load * 100:.0f}%", asks])
    console.print(
        table(
            f"{sc.name}: sites, GPUs and existing tenants",
            ["site", "region", "role", "GPUs", "held by tenants", "lowest ask CNY/GPU-h"],
            rows,
        )
    )


def demo_cmd(
    days: Annotated[float, typer.Option("--days", help="Days to simulate.", min=0.05)] = 7.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for the demand.")] = 1,
    report: Annotated[
        Path, typer.Option("--report", help="Where to write the HTML report.")
    ] = Path("suanli-demo-report.html"),
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then seed the demo's exchange with a realistic market and keep it running; "
            "prints the dashboard URL and the keys to paste.",
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="With --serve.")] = 8000,
) -> None:
    """Run the China 2025 market end to end and show what Suanli changes."""
    from suanli.cli.simulate_cmd import (
        print_summary,
        print_verdict,
        run_with_progress,
        write_report,
    )
    from suanli.sim import REGISTRY

    console.rule("Suanli demo: the China 2025 market")
    console.print(
        "Buyers today rent GPUs at the site nearest their users; western hub clusters built "
        "for training sit mostly idle. We replay the same demand under five policies: "
        "nearest site, nearest capable site with spill-over, cheapest single GPU type, "
        "greedy per job, and Suanli (joint placement + market), against a hindsight bound.",
        highlight=False,
    )
    _show_market("china-2025")
    result = run_with_progress("china-2025", days=days, seed=seed, policies=list(REGISTRY))
    path = write_report(result, report)
    console.rule("Verdict")
    print_verdict(result)
    print_summary(result)

    from suanli.cli.demo_exchange import run_exchange_demo, show_exchange_demo

    console.rule("The exchange: list, ask for an outcome, quote, order, lease")
    database = report.with_suffix(".db")
    # Each demo starts from an empty exchange; a stale -wal/-shm beside a new file would be
    # replayed into it, so they go too.
    for leftover in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    show_exchange_demo(run_exchange_demo(database.resolve()))
    console.print(
        f"\nSimulated {result.days:g} days in {result.elapsed_s:.1f} s. "
        f"Report: [bold]{path}[/] (self-contained HTML; open it in any browser).",
        highlight=False,
    )
    if not serve:
        console.print(
            "To look at an exchange like this in the dashboard: suanli demo --serve "
            "(or suanli seed --serve) prints its URL and the keys to paste.",
            highlight=False,
        )
        return
    from suanli.cli.seed_cmd import seed_database, serve_exchange, show_seeded

    console.rule("A realistic exchange to try")
    url = f"sqlite:///{database.resolve()}"
    show_seeded(seed_database(url, seed), f"http://127.0.0.1:{port}")
    serve_exchange(url, "127.0.0.1", port)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
