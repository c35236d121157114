"""``suanli bench ...``: the project's own benchmarks, each printing one JSON document.

Each benchmark compares against a baseline measured in the same run.
"""

from __future__ import annotations

import typer

bench_app = typer.Typer(
    help="Benchmarks (placement, api, market, sim, sizing, gateway); print JSON.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


# Benchmark commands are added below, one function per benchmark, each importing its
# implementation lazily: @bench_app.command("placement") etc.


@bench_app.command("market")
def bench_market(
    orders: int = typer.Option(100_000, "--orders", help="book size to clear"),
    baseline_orders: int = typer.Option(10_000, "--baseline-orders", help="baseline book size"),
    past_events: int = typer.Option(
        100_000, "--past-events", help="market history behind the start-up measurement"
    ),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """Clear a synthetic book of ORDERS orders (also with validation); baseline: a naive
    pure-Python price scan; start-up of the exchange with PAST_EVENTS of market history."""
    from suanli.bench.market import run
    from suanli.bench.market_service import clear_validated, startup
    from suanli.cli.common import print_json

    doc = run(n_orders=orders, baseline_orders=baseline_orders)
    doc.update(clear_validated(orders))
    doc.update(startup(past_events))
    print_json(doc)


@bench_app.command("sim")
def bench_sim(
    days: float = typer.Option(30.0, "--days", help="days of the China 2025 market to simulate"),
    seed: int = typer.Option(0, "--seed", help="random seed for the demand"),
    baseline_requests: int = typer.Option(
        20_000, "--baseline-requests", help="requests the scalar baseline evaluates"
    ),
    sweep_days: float = typer.Option(
        30.0, "--sweep-days", help="days per sensitivity variant (0: skip the sweep)", min=0.0
    ),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """A month of the national market (15 sites, about 70,000 requests a day) under every
    policy and the hindsight bound, then the sensitivity sweep in parallel processes;
    baseline: per-request latency evaluation in plain Python."""
    from suanli.bench.sim import run
    from suanli.cli.common import print_json

    print_json(
        run(days=days, seed=seed, baseline_requests=baseline_requests, sweep_days=sweep_days)
    )


@bench_app.command("placement")
def bench_placement(
    sites: int = typer.Option(500, "--sites", help="sites (each lists --types-per-site GPU types)"),
    requests: int = typer.Option(100_000, "--requests", help="requests to place"),
    seed: int = typer.Option(0, "--seed", help="random seed of the instance"),
    types_per_site: int = typer.Option(4, "--types-per-site", help="offers per site"),
    milp_max: int = typer.Option(300, "--milp-max", help="run the exact MILP up to this many"),
    milp_time_limit: float = typer.Option(30.0, "--milp-time-limit", help="MILP limit, s"),
    china: bool = typer.Option(False, "--china", help="use the 15 built-in China sites"),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """Place REQUESTS generated requests on SITES x TYPES-PER-SITE offers with the fast
    solver; report time, cost, LP lower bound and gap, with the nearest-site and
    cheapest-type baselines and (small sizes) the exact MILP in the same run."""
    from suanli.bench.placement import run_benchmark
    from suanli.cli.common import print_json

    print_json(
        run_benchmark(
            sites,
            requests,
            seed=seed,
            types_per_site=types_per_site,
            milp_max_requests=milp_max,
            milp_time_limit_s=milp_time_limit,
            china=china,
        )
    )


@bench_app.command("sizing")
def bench_sizing(
    model: str = typer.Option("qwen2.5-32b", "--model", help="model to size"),
    rate: float = typer.Option(40.0, "--rate", help="arrival rate, requests/s"),
    repeats: int = typer.Option(3, "--repeats", help="timed repetitions (median reported)"),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """Size a request over every GPU type on both Azure traces (time per call); baseline: a
    brute-force scheduler simulation of the chosen configuration's TTFT and TPOT."""
    from suanli.bench.sizing import run
    from suanli.cli.common import print_json

    print_json(run(model=model, rate_per_s=rate, repeats=repeats))


@bench_app.command("api")
def bench_api(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="PostgreSQL to bench as well (default: $SUANLI_TEST_DATABASE_URL); SQLite always",
    ),
    seconds: float = typer.Option(5.0, "--seconds", min=0.5, max=600, help="per phase"),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=512, help="connections"),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="server worker processes"),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """Start the exchange on loopback and drive offer and order writes at it from a separate
    process: writes/s, p50/p99 latency and server CPU per request, per backend."""
    import os

    from suanli.bench.api import run_api_bench
    from suanli.cli.common import err_console, print_json

    postgres = database_url or os.environ.get("SUANLI_TEST_DATABASE_URL") or None
    err_console.print(
        f"bench api: sqlite{' + postgresql' if postgres else ''}, {workers} worker(s), "
        f"{concurrency} connections, {seconds:g} s per phase"
    )
    print_json(
        run_api_bench(
            postgres_url=postgres, seconds=seconds, concurrency=concurrency, workers=workers
        )
    )


@bench_app.command("gateway")
def bench_gateway(
    concurrency: int = typer.Option(200, "--concurrency", min=1, help="concurrent streams"),
    duration: float = typer.Option(10.0, "--duration", min=0.5, help="seconds per phase"),
    warmup: float = typer.Option(2.0, "--warmup", min=0.0, help="seconds not measured"),
    max_tokens: int = typer.Option(8, "--max-tokens", min=1, help="tokens per answer"),
    model: str = typer.Option("Qwen2.5-72B", "--model", help="the emulated replica's model"),
    gpu: str = typer.Option("L40S", "--gpu", help="the emulated replica's GPU"),
    tp: int = typer.Option(4, "--tp", min=1, help="the emulated replica's tensor parallelism"),
    prompt_words: int = typer.Option(2000, "--prompt-words", min=1, help="prompt length"),
    as_json: bool = typer.Option(True, "--json/--no-json", help="print one JSON document"),
) -> None:
    """The gateway's overhead on TTFT at CONCURRENCY streams to an emulated replica;
    baseline: the same load sent to the replica directly in the same run. The replica's
    model, GPU and prompt set the pace of tokens (all three processes share this machine)."""
    from suanli.bench.gateway import run
    from suanli.cli.common import print_json

    print_json(
        run(
            concurrency=concurrency,
            duration_s=duration,
            warmup_s=warmup,
            max_tokens=max_tokens,
            model=model,
            gpu=gpu,
            tp=tp,
            prompt_words=prompt_words,
        )
    )
