"""``suanli simulate``: replay a scenario under several policies and report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanli.cli.common import console, err_console, print_json, table

if TYPE_CHECKING:
    from suanli.sim.run import SimResult

POLICY_HELP = (
    "Policy to run (repeat or comma-separate): nearest, nearest-spill, cheapest-type, greedy, "
    "suanli."
)


def run_with_progress(
    scenario_name: str, *, days: float, seed: int, policies: list[str], show: bool = True
) -> SimResult:
    """Load the scenario and simulate it with a progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from suanli.sim import load_scenario, simulate

    scenario = load_scenario(scenario_name)
    hours = max(1, round(days * 24))
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} h"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not show,
    ) as progress:
        tasks = {p: progress.add_task(f"{p:>13}", total=hours) for p in policies}

        def step(policy: str, n: int) -> None:
            progress.advance(tasks[policy], n)

        return simulate(scenario, days=days, seed=seed, policies=policies, progress=step)


def parse_policies(values: list[str] | None) -> list[str]:
    from suanli.sim import REGISTRY

    if not values:
        return list(REGISTRY)
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def write_report(
    result: SimResult, path: Path, lang: str = "en", sweep: dict[str, Any] | None = None
) -> Path:
    """Write the HTML report; returns the absolute path."""
    from suanli.errors import InvalidRequest
    from suanli.sim.report import render_report

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_report(result, lang, sweep), encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(
            f"cannot write the report to {path}: {exc.strerror}", field="report"
        ) from None
    return path.resolve()


def print_verdict(result: SimResult) -> None:
    """The verdict, one sentence a line: buyers, sellers, western hubs, where it does not help."""
    from suanli.sim.report import verdict

    for line in verdict(result):
        console.print(f"• {line}", highlight=False)


def print_sweep(sweep: dict[str, Any]) -> None:
    """The sensitivity table."""
    from suanli.sim.report import sensitivity_rows

    def ratio(x: Any) -> str:
        return f"{(x - 1) * 100:+.1f}%" if isinstance(x, float) and x == x else "-"

    def share(x: Any) -> str:
        return "-" if x is None else f"{x * 100:.1f}%"

    rows = [
        [
            r["variant"],
            r["bound_cost_cny_per_million_tokens"],
            ratio(r["suanli_vs_bound"]),
            ratio(r["nearest_spill_vs_suanli"]),
            ratio(r["greedy_vs_suanli"]),
            share(r["suanli_worst_class_slo"]),
            f"{share(r['west_reserved_nearest'])} → {share(r['west_reserved_suanli'])}",
            f"{r['revenue_nearest_cny'] or 0:,.0f} → {r['revenue_suanli_cny'] or 0:,.0f}",
        ]
        for r in sensitivity_rows(sweep)
    ]
    console.print(
        table(
            f"Sensitivity ({sweep['workers']} processes, {sweep['wall_s']:.0f} s)",
            [
                "variant",
                "bound CNY/M",
                "Suanli vs bound",
                "spill vs Suanli",
                "greedy vs Suanli",
                "Suanli worst SLO",
                "west util.",
                "revenue CNY",
            ],
            rows,
        )
    )


def print_summary(result: SimResult) -> None:
    """Rich tables: policies side by side, utilization by region, SLOs, findings."""
    from suanli.sim.report import findings
    from suanli.sim.summary import policy_summary

    pols = {name: policy_summary(result, p) for name, p in result.policies.items()}
    wl = [w.name for w in result.scenario.workloads]

    def pct(x: Any) -> str:
        return "-" if x is None else f"{x * 100:.1f}%"

    rows = []
    for name, s in pols.items():
        u = s["utilization"]
        slo = {r["workload"]: r for r in s["slo"] if r["city"] == "all"}
        rows.append(
            [
                name,
                pct(u["western_hubs"]),
                pct(u["metro"]),
                pct(u["all"]),
                s["cost_cny_per_million_tokens"]["all"],
                *[pct(slo[n]["attainment"]) for n in wl],
                s["requests_timed_out"],
                s["seller_revenue_cny"],
            ]
        )
    console.print(
        table(
            f"{result.scenario.name}: {result.days:g} days, seed {result.seed}, "
            f"{result.requests:,} simulated requests",
            [
                "policy",
                "west hubs",
                "metro",
                "all",
                "CNY/M tok",
                *[f"{n} SLO" for n in wl],
                "timed out",
                "revenue CNY",
            ],
            rows,
        )
    )
    regions = list(result.world.region_names)
    console.print(
        table(
            "Mean utilization by region",
            ["region", *pols],
            [[r, *[pct(s["utilization"]["by_region"][r]) for s in pols.values()]] for r in regions],
        )
    )
    slo_rows = []
    for n in wl:
        for name, s in pols.items():
            r = next(x for x in s["slo"] if x["workload"] == n and x["city"] == "all")
            slo_rows.append(
                [
                    n,
                    name,
                    r["ttft_p95_ms"],
                    r["ttft_target_ms"],
                    r["tpot_p95_ms"],
                    r["tpot_target_ms"],
                    pct(r["attainment"]),
                ]
            )
    console.print(
        table(
            "SLOs (p95 over all cities; - : the p95 request timed out)",
            ["workload", "policy", "TTFT p95 ms", "target", "TPOT p95 ms", "target", "met"],
            slo_rows,
        )
    )
    for line in findings(result):
        console.print(f"• {line}", highlight=False)


def simulate_cmd(
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in scenario name or a scenario YAML file.")
    ] = "china-2025",
    days: Annotated[float, typer.Option("--days", help="Days to simulate.", min=0.05)] = 30.0,
    policy: Annotated[list[str] | None, typer.Option("--policy", help=POLICY_HELP)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for the demand.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML report to this file.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep",
            help="Also run the sensitivity variants (demand x0.5/x2, equal asks, route factor "
            "2.0, TTFT halved, western inventory halved) in parallel processes.",
        ),
    ] = False,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the HTML report: en or zh-CN.")
    ] = "en",
) -> None:
    """Replay a scenario hour by hour under each policy on the same demand."""
    if lang not in ("en", "zh-CN"):
        from suanli.errors import InvalidRequest

        raise InvalidRequest(f"--lang is en or zh-CN, not {lang!r}", field="lang")
    from suanli.sim.summary import summary

    policies = parse_policies(policy)
    result = run_with_progress(scenario, days=days, seed=seed, policies=policies)
    swept = None
    if sweep:
        from suanli.sim import load_scenario
        from suanli.sim.sweep import sweep as run_sweep

        swept = run_sweep(load_scenario(scenario), days=days, seed=seed)
    path = write_report(result, report, lang, swept) if report is not None else None
    if json_out:
        doc = summary(result)
        doc["report"] = str(path) if path else None
        if swept is not None:
            doc["sensitivity"] = swept
        print_json(doc)
        return
    print_verdict(result)
    print_summary(result)
    if swept is not None:
        print_sweep(swept)
    if path:
        console.print(f"Report written to [bold]{path}[/] (open it in a browser).")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
