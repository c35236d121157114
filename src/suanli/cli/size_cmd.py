"""``suanli size``, ``suanli size-batch``, ``suanli size-train``: requests to GPU configurations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from suanli.cli.common import console, print_json, table, to_jsonable
from suanli.defaults import DEFAULT_HEADROOM, DEFAULT_PERCENTILE
from suanli.errors import InvalidRequest

if TYPE_CHECKING:
    from suanli.catalog.gpus import Gpu
    from suanli.perf import KvPrecision, Precision
    from suanli.perf.sizing import Sizing

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
GpuOpt = Annotated[
    list[str] | None, typer.Option("--gpu", help="GPU type to consider (repeat); default all.")
]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option("--price", help="GPU=CNY per GPU-hour, overriding the reference price."),
]
PrecisionOpt = Annotated[str, typer.Option(help="Weights: bf16, fp8 or int4.")]
ServePrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="Weights: bf16, fp8, int4 or mxfp4 (default: the checkpoint's declared one).",
    ),
]
KvPrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--kv-precision",
        help="KV cache: bf16 or fp8 (default: the checkpoint's, else bf16 as vLLM keeps it).",
    ),
]


def _gpus_and_prices(
    names: list[str] | None, overrides: list[str] | None
) -> tuple[list[Gpu], dict[str, float]]:
    from suanli import catalog

    gpus = [catalog.gpu(n) for n in names] if names else list(catalog.gpus())
    prices = dict(catalog.reference_prices())
    for item in overrides or []:
        name, sep, value = item.partition("=")
        try:
            price = float(value)
        except ValueError:
            price = -1.0
        if not sep or price <= 0:
            raise InvalidRequest(
                f"--price expects GPU=CNY with a positive price, got {item!r}",
                field="--price",
                hint="e.g. --price H200-SXM=18",
            )
        prices[catalog.gpu(name).name] = price
    return gpus, prices


def sizing_document(sizing: Sizing) -> dict[str, Any]:
    """The JSON document of a sizing (the trace named, not inlined)."""
    req = sizing.request
    request = {
        "model": req.model,
        "precision": req.precision,
        "kv_precision": req.kv_precision,
        "rate_per_s": req.rate_per_s,
        "prompt_tokens": req.prompt_tokens,
        "output_tokens": req.output_tokens,
        "trace": req.trace.name if req.trace is not None else None,
        "ttft_ms": req.ttft_ms,
        "tpot_ms": req.tpot_ms,
        "percentile": req.percentile,
        "headroom": req.headroom,
    }
    return {
        "request": request,
        "model": sizing.model,
        "workload": to_jsonable(sizing.workload),
        "best": to_jsonable(sizing.best),
        "configs": to_jsonable(sizing.configs),
        "rejected": to_jsonable(sizing.rejected),
        "rejected_types": sizing.rejected_types(),
        "heterogeneous": to_jsonable(sizing.heterogeneous),
    }


def size_cmd(
    model: Annotated[str, typer.Option(help="Catalog model or path to a config.json.")],
    ttft_ms: Annotated[float, typer.Option("--ttft-ms", help="TTFT target at the percentile.")],
    tpot_ms: Annotated[float, typer.Option("--tpot-ms", help="Time per output token target.")],
    rate: Annotated[
        float | None, typer.Option(help="Arrival rate, requests/s (default: the trace's).")
    ] = None,
    prompt_tokens: Annotated[int | None, typer.Option(help="Mean prompt tokens.")] = None,
    output_tokens: Annotated[int | None, typer.Option(help="Mean output tokens.")] = None,
    percentile: Annotated[
        float, typer.Option(help="Percentile of the TTFT target.")
    ] = DEFAULT_PERCENTILE,
    headroom: Annotated[
        float, typer.Option(help="Share of capacity kept free.")
    ] = DEFAULT_HEADROOM,
    network_rtt_ms: Annotated[
        float, typer.Option(help="Part of the TTFT target kept for the network RTT to users.")
    ] = 0.0,
    precision: ServePrecisionOpt = None,
    kv_precision: KvPrecisionOpt = None,
    gpu: GpuOpt = None,
    price: PriceOpt = None,
    trace: Annotated[
        str | None, typer.Option(help="Trace CSV file, or azure-conv / azure-code.")
    ] = None,
    hetero: Annotated[
        bool, typer.Option("--hetero/--no-hetero", help="Also plan a mix of GPU types.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Size a serving request: per GPU type and TP, batch, replicas, TTFT, TPOT and cost."""
    from suanli.catalog.traces import load_trace
    from suanli.perf.sizing import ServeRequest, size

    gpus, prices = _gpus_and_prices(gpu, price)
    loaded = load_trace(trace) if trace else None
    if rate is None:
        if loaded is None:
            raise InvalidRequest(
                "--rate is missing", field="rate_per_s", hint="Give --rate (requests/s)."
            )
        rate = loaded.rate_per_s
    request = ServeRequest(
        model=model,
        rate_per_s=rate,
        ttft_ms=ttft_ms,
        tpot_ms=tpot_ms,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        trace=loaded,
        percentile=percentile,
        headroom=headroom,
        precision=cast("Precision | None", precision),
        kv_precision=cast("KvPrecision | None", kv_precision),
        network_rtt_ms=network_rtt_ms,
    )
    sizing = size(request, gpus, prices, heterogeneous=hetero)
    if json_out:
        print_json(sizing_document(sizing))
        return
    _show(sizing)


def _show(sizing: Sizing) -> None:
    req, w = sizing.request, sizing.workload
    p = f"p{req.percentile:g}"
    console.print(
        f"[bold]{sizing.model}[/] ({req.precision}) at {req.rate_per_s:.1f} req/s; "
        f"TTFT {p} <= {req.ttft_ms:g} ms, TPOT <= {req.tpot_ms:g} ms; "
        f"lengths from {w.source}: prompt mean {w.prompt_mean:.0f} ({p} "
        f"{w.prompt_at_percentile}), output mean {w.output_mean:.0f} ({p} "
        f"{w.output_at_percentile})"
    )
    console.print(
        table(
            "Configurations, cheapest first",
            [
                "gpu",
                "tp",
                "batch",
                "replicas",
                "GPUs",
                f"TTFT {p} ms",
                "TPOT ms",
                "CNY/h",
                "CNY/M tok",
            ],
            [
                (
                    c.gpu,
                    c.tp,
                    c.max_batch,
                    c.replicas,
                    c.gpus,
                    round(c.ttft_ms),
                    c.tpot_ms,
                    c.cost_cny_per_hour,
                    c.cost_cny_per_million_output_tokens,
                )
                for c in sizing.configs
            ],
        )
    )
    rejected = sizing.rejected_types()
    if rejected:
        console.print(
            table(
                "GPU types that cannot meet the targets", ["gpu", "why"], sorted(rejected.items())
            )
        )
    best = sizing.best
    if best is None:
        console.print("[bold red]No configuration meets the targets.[/]")
    else:
        console.print(
            f"[bold green]Plan:[/] {best.replicas} x {best.gpu} TP={best.tp} ({best.gpus} GPUs, "
            f"batch {best.max_batch}): TTFT {p} {best.ttft_ms:.0f} ms, TPOT {best.tpot_ms:.1f} "
            f"ms, {best.cost_cny_per_hour:,.1f} CNY/h, "
            f"{best.cost_cny_per_million_output_tokens:.2f} CNY per M output tokens"
        )
    plan = sizing.heterogeneous
    if plan is not None:
        console.print(
            table(
                "Heterogeneous plan (length buckets -> GPU types)",
                ["bucket", "share", "req/s", "served by"],
                [
                    (b.label, f"{b.share:.1%}", b.rate_per_s, plan.assignment[b.label])
                    for b in plan.buckets
                ],
            )
        )
        console.print(
            table(
                "Heterogeneous plan: replicas",
                ["gpu", "tp", "replicas", "GPUs", "req/s", f"TTFT {p} ms", "CNY/h"],
                [
                    (g.gpu, g.tp, g.replicas, g.gpus, g.rate_per_s, g.ttft_ms, g.cost_cny_per_hour)
                    for g in plan.groups
                ],
            )
        )
        console.print(f"Mixed plan: {plan.cost_cny_per_hour:,.1f} CNY/h; {plan.note}.")


def size_batch_cmd(
    model: Annotated[str, typer.Option(help="Catalog model or path to a config.json.")],
    requests: Annotated[int, typer.Option(help="Number of requests in the job.")],
    prompt_tokens: Annotated[int, typer.Option(help="Mean prompt tokens.")],
    output_tokens: Annotated[int, typer.Option(help="Mean output tokens.")],
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs to run on (N).")] = 8,
    deadline_h: Annotated[float | None, typer.Option(help="Deadline, hours.")] = None,
    precision: PrecisionOpt = "bf16",
    gpu: GpuOpt = None,
    price: PriceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Size a batch-inference job: GPU-hours, time on N GPUs and cost per GPU type."""
    from suanli.perf.jobs import BatchRequest, size_batch

    types, prices = _gpus_and_prices(gpu, price)
    req = BatchRequest(
        model=model,
        requests=requests,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        gpus=gpus,
        deadline_h=deadline_h,
        precision=cast("Precision", precision),
    )
    estimates, rejected = size_batch(req, types, prices)
    if json_out:
        print_json({"estimates": estimates, "rejected": rejected})
        return
    console.print(
        table(
            f"Batch job: {requests:,} requests x ({prompt_tokens} + {output_tokens}) tokens "
            f"on {gpus} GPUs",
            ["gpu", "tp", "batch", "GPU-hours", "hours", "CNY", "tok/s/GPU", "GPUs for deadline"],
            [
                (
                    e.gpu,
                    e.tp,
                    e.batch,
                    e.gpu_hours,
                    e.hours,
                    e.cost_cny,
                    e.tokens_per_s_per_gpu,
                    e.gpus_for_deadline,
                )
                for e in estimates
            ],
        )
    )
    for r in rejected:
        console.print(f"  {r.gpu}: {r.reason}", style="dim")


def size_train_cmd(
    tokens: Annotated[float, typer.Option(help="Training tokens, e.g. 1e11.")],
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs to train on (N).")],
    model: Annotated[str | None, typer.Option(help="Catalog model or config.json.")] = None,
    params: Annotated[float | None, typer.Option(help="Parameters, if no model.")] = None,
    mfu: Annotated[float, typer.Option(help="Model-FLOPs utilisation assumed.")] = 0.4,
    precision: PrecisionOpt = "bf16",
    gpu: GpuOpt = None,
    price: PriceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Size a training job: 6·P·tokens FLOPs at an MFU; GPU-hours, time, cost, fabric."""
    from suanli.perf.jobs import TrainingRequest, size_training

    types, prices = _gpus_and_prices(gpu, price)
    req = TrainingRequest(
        tokens=tokens,
        gpus=gpus,
        model=model,
        params=params,
        mfu=mfu,
        precision=cast("Precision", precision),
    )
    estimates, rejected = size_training(req, types, prices)
    if json_out:
        print_json({"estimates": estimates, "rejected": rejected})
        return
    console.print(
        table(
            f"Training: {tokens:.3g} tokens on {gpus} GPUs at MFU {mfu:.0%}",
            ["gpu", "GPU-hours", "hours", "CNY", "min GPUs", "fabric", "ok", "notes"],
            [
                (
                    e.gpu,
                    e.gpu_hours,
                    e.hours,
                    e.cost_cny,
                    e.min_gpus_for_memory,
                    e.fabric,
                    "yes" if e.fits and e.fabric_ok else "no",
                    "; ".join(e.notes),
                )
                for e in estimates
            ],
        )
    )


def register(app: typer.Typer) -> None:
    app.command("size")(size_cmd)
    app.command("size-batch")(size_batch_cmd)
    app.command("size-train")(size_train_cmd)
