"""``suanli perf decode|prefill|generate|throughput|calibration``: the performance model from
the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from suanli.cli.common import console, print_json, table

perf_app = typer.Typer(
    help="Performance model: decode step and prefill time, calibration.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Catalog name or config.json path.")]
GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU model, e.g. h100, H20.")]
TpOpt = Annotated[int, typer.Option("--tp", help="Tensor-parallel degree: 1, 2, 4 or 8.")]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="Weights: bf16, fp8 (where supported), int4 or mxfp4 (default: the checkpoint's).",
    ),
]
KvPrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--kv-precision",
        help="KV cache: bf16 or fp8 (default: the checkpoint's, else the engine's choice).",
    ),
]
PromptOpt = Annotated[int, typer.Option("--prompt-tokens", "-p", help="Prompt length.")]
OutputOpt = Annotated[int, typer.Option("--output-tokens", "-o", help="Tokens generated each.")]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        "-e",
        help="Serving engine profile: vllm (default), tensorrt-llm, lmdeploy, nim, pytorch.",
    ),
]


def _resolve(model_name: str, gpu_name: str) -> tuple[Any, Any]:
    from suanli.catalog import gpu
    from suanli.catalog.models import model

    return model(model_name), gpu(gpu_name)


def _parts_rows(parts: dict[str, float]) -> list[tuple[str, float]]:
    return [(name, ms) for name, ms in parts.items() if ms > 0]


@perf_app.command("decode")
def decode_cmd(
    model_name: ModelOpt,
    gpu_name: GpuOpt,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Sequences in the batch.")] = 1,
    context: Annotated[int, typer.Option("--context", "-c", help="Cached tokens each.")] = 1024,
    tp: TpOpt = 1,
    precision: PrecisionOpt = None,
    kv_precision: KvPrecisionOpt = None,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predicted time of one decode step (every sequence emits one token)."""
    from suanli.perf import decode_step

    arch, card = _resolve(model_name, gpu_name)
    prec: Any = precision  # checked by the model: InvalidRequest names the allowed values
    kv: Any = kv_precision
    est = decode_step(
        arch,
        card,
        batch=batch,
        context=context,
        tp=tp,
        precision=prec,
        engine=engine,
        kv_precision=kv,
    )
    if json_out:
        print_json({"model": arch.name, "gpu": card.name, **_jsonable(est)})
        return
    console.print(
        f"{arch.name} on {tp}x {card.name} ({est.precision}, KV {est.kv_precision}, "
        f"{est.engine}), batch {batch}, "
        f"context {context}: "
        f"step_ms {est.step_ms:.2f}, tokens_per_s {est.tokens_per_s:,.0f}, "
        f"memory_gb {est.memory_gb:.1f} of {card.memory_gb:g} per GPU, fits {est.fits}"
        + (f" (short by {est.shortfall_gb:.1f} GB)" if not est.fits else "")
        + f", {est.bound}-bound"
    )
    console.print(table("parts of the step", ["part", "ms"], _parts_rows(est.parts_ms)))


@perf_app.command("prefill")
def prefill_cmd(
    model_name: ModelOpt,
    gpu_name: GpuOpt,
    prompt_tokens: PromptOpt,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Prompts prefilled together.")] = 1,
    tp: TpOpt = 1,
    precision: PrecisionOpt = None,
    kv_precision: KvPrecisionOpt = None,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predicted prefill time (time to first token without queueing)."""
    from suanli.perf import prefill

    arch, card = _resolve(model_name, gpu_name)
    prec: Any = precision
    kv: Any = kv_precision
    est = prefill(
        arch,
        card,
        prompt_tokens=prompt_tokens,
        batch=batch,
        tp=tp,
        precision=prec,
        engine=engine,
        kv_precision=kv,
    )
    if json_out:
        print_json({"model": arch.name, "gpu": card.name, **_jsonable(est)})
        return
    console.print(
        f"{arch.name} on {tp}x {card.name} ({est.precision}, KV {est.kv_precision}, "
        f"{est.engine}), {batch} x "
        f"{prompt_tokens} prompt "
        f"tokens: prefill_ms {est.prefill_ms:.1f}, memory_gb {est.memory_gb:.1f} per GPU, "
        f"fits {est.fits}, {est.bound}-bound"
    )
    console.print(table("parts of the prefill", ["part", "ms"], _parts_rows(est.parts_ms)))


@perf_app.command("generate")
def generate_cmd(
    model_name: ModelOpt,
    gpu_name: GpuOpt,
    prompt_tokens: PromptOpt,
    output_tokens: OutputOpt,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Sequences generated together.")] = 1,
    tp: TpOpt = 1,
    precision: PrecisionOpt = None,
    kv_precision: KvPrecisionOpt = None,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predicted time for a static batch to generate: the prefill, which yields the first
    token, then one decode step per further token with the context growing."""
    from suanli.perf.generation import generate

    arch, card = _resolve(model_name, gpu_name)
    prec: Any = precision
    kv: Any = kv_precision
    est = generate(
        arch,
        card,
        batch=batch,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        tp=tp,
        precision=prec,
        kv_precision=kv,
        engine=engine,
    )
    if json_out:
        print_json({"model": arch.name, "gpu": card.name, **_jsonable(est)})
        return
    console.print(
        f"{arch.name} on {tp}x {card.name} ({est.precision}, KV {est.kv_precision}, "
        f"{est.engine}), {batch} x ({prompt_tokens} prompt + {output_tokens} output) tokens: "
        f"total_ms {est.total_ms:,.1f} (prefill {est.prefill_ms:,.1f} + {est.decode_steps} "
        f"decode steps {est.decode_ms:,.1f}), output_tokens_per_s "
        f"{est.output_tokens_per_s:,.0f}, memory_gb {est.memory_gb:.1f} per GPU at the end, "
        f"fits {est.fits}"
    )


@perf_app.command("throughput")
def throughput_cmd(
    model_name: ModelOpt,
    gpu_name: GpuOpt,
    prompt_tokens: PromptOpt,
    output_tokens: OutputOpt,
    tp: TpOpt = 1,
    precision: PrecisionOpt = None,
    kv_precision: KvPrecisionOpt = None,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predicted output tokens/s of one replica under continuous batching at saturation,
    with as many sequences in flight as the KV cache holds at full length."""
    from suanli.perf.generation import throughput

    arch, card = _resolve(model_name, gpu_name)
    prec: Any = precision
    kv: Any = kv_precision
    est = throughput(
        arch,
        card,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        tp=tp,
        precision=prec,
        kv_precision=kv,
        engine=engine,
    )
    if json_out:
        print_json({"model": arch.name, "gpu": card.name, **_jsonable(est)})
        return
    console.print(
        f"{arch.name} on {tp}x {card.name} ({est.precision}, KV {est.kv_precision}, "
        f"{est.engine}), {prompt_tokens} prompt + {output_tokens} output tokens: "
        f"output_tokens_per_s {est.output_tokens_per_s:,.0f} ({est.requests_per_s:,.2f} "
        f"requests/s), batch {est.batch} ({est.batch_limit}-limited; memory holds "
        f"{est.max_batch_memory}), decode step {est.step_ms:.1f} ms, TPOT {est.tpot_ms:.1f} ms"
    )


@perf_app.command("calibration")
def calibration_cmd(
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Fit again, with the leave-one-source-out and 5-fold checks (about a minute).",
        ),
    ] = False,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="With --refit: write the fitted calibration JSON here."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Predicted vs measured step times on every calibration point, each with its engine's
    profile; errors overall and per source; leave-one-source-out errors (each source predicted
    by a fit without it, with the default engine profile when its engine is unseen)."""
    import json

    from suanli.cli.common import err_console
    from suanli.errors import InvalidRequest
    from suanli.perf import fit

    if save is not None and not refit:
        raise InvalidRequest("--save needs --refit", field="--save")
    points = fit.calibration_points()
    if refit:
        err_console.print("fitting all points ...")
        cal = fit.fit(points)
        left_out: list[Any] = []
        loso = fit.leave_one_source_out(
            points,
            progress=lambda key: err_console.print(f"fitting without {key} ..."),
            rows=left_out,
        )
        overall = fit.pooled(loso, left_out)
        folds = fit.k_fold(points, progress=lambda step: err_console.print(f"{step} ..."))
        document = fit.calibration_document(cal, points, loso, folds, overall)
        from suanli.perf.calibration import calibration_from_dict

        cal = calibration_from_dict(document)
    else:
        document = fit.stored_document()
        cal = fit.default_calibration()
        loso = document.get("validation", {}).get("leave_one_source_out", {})
        overall = document.get("validation", {}).get("leave_one_source_out_overall", {})
        folds = document.get("validation", {}).get("cross_validation", {})
    rows = fit.evaluate(points, cal)
    summary = fit.summarize(rows)
    held_rows = fit.evaluate(fit.held_out_points(), cal)
    held = fit.summarize(held_rows) if held_rows else {}
    if save is not None:
        save.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if json_out:
        print_json(
            {
                "calibration": {
                    "source": cal.source,
                    "default_engine": cal.engine,
                    "params": cal.params(),
                    "engines": {
                        p.name: {
                            "split_kv": p.split_kv,
                            "description": p.description,
                            "params": p.params(),
                        }
                        for p in cal.engines
                    },
                },
                "summary": summary,
                "leave_one_source_out": loso,
                "leave_one_source_out_overall": overall,
                "held_out": {**held, "points": [_jsonable(r) for r in held_rows]},
                "cross_validation": folds,
                "points": [_jsonable(r) for r in rows],
            }
        )
        return
    _print_calibration(cal, rows, summary, loso, folds, overall)
    if held:
        _print_held_out(held_rows, held)


def _print_calibration(
    cal: Any,
    rows: list[Any],
    summary: dict[str, Any],
    loso: dict[str, Any],
    folds: dict[str, Any],
    overall: dict[str, Any],
) -> None:
    console.print(
        table(
            f"Calibration points (engine-aware; {cal.source})",
            [
                "model",
                "gpu",
                "kind",
                "batch",
                "context",
                "tp",
                "prec",
                "measured ms",
                "predicted ms",
                "error %",
                "engine",
                "source",
            ],
            [
                (
                    r.model,
                    r.gpu,
                    r.kind,
                    r.batch,
                    r.context,
                    r.tp,
                    r.precision,
                    r.measured_ms,
                    round(r.predicted_ms, 2),
                    round(100 * r.error, 1),
                    r.engine,
                    r.source_key,
                )
                for r in rows
            ],
        )
    )
    console.print(
        f"{summary['points']} points: "
        f"median |error| {100 * summary['median_abs_error']:.1f}%, "
        f"worst {100 * summary['max_abs_error']:.1f}%, "
        f"mean error {100 * summary['mean_error']:+.1f}%"
    )
    if overall:
        console.print(
            f"leave-one-source-out over all {overall['points']} points ({overall['sources']} "
            f"sources, each predicted by a fit without it): "
            f"median |error| {100 * overall['median_abs_error']:.1f}%, "
            f"worst {100 * overall['max_abs_error']:.1f}%, "
            f"mean error {100 * overall['mean_error']:+.1f}%"
        )
    if folds:
        console.print(
            f"{folds['folds']}-fold cross-validation (engines seen, points held out): "
            f"median |error| {100 * folds['median_abs_error']:.1f}%, "
            f"worst {100 * folds['max_abs_error']:.1f}%"
        )

    def pct(value: float) -> str:
        return f"{100 * value:.1f}"

    console.print(
        table(
            "Per source: own engine profile / left out of the fit (unseen engine: default profile)",
            [
                "source",
                "engine",
                "points",
                "median %",
                "worst %",
                "left-out median %",
                "left-out worst %",
                "left-out predicted with",
            ],
            [
                (
                    key,
                    part["engine"],
                    part["points"],
                    pct(part["median_abs_error"]),
                    pct(part["max_abs_error"]),
                    pct(loso[key]["median_abs_error"]) if key in loso else "-",
                    pct(loso[key]["max_abs_error"]) if key in loso else "-",
                    loso[key]["evaluated_with"] if key in loso else "-",
                )
                for key, part in summary["by_source"].items()
            ],
        )
    )


def _print_held_out(rows: list[Any], held: dict[str, Any]) -> None:
    console.print(
        table(
            "Held out of the fit: published serving runs under load (held_out.json)",
            ["model", "gpu", "kind", "tp", "in", "out", "measured s", "error %"],
            [
                (
                    r.model,
                    r.gpu,
                    r.kind,
                    r.tp,
                    r.context,
                    r.output_tokens if r.kind in ("generate", "serve") else "-",
                    f"{r.measured_ms / 1e3:.3g}",
                    f"{100 * r.error:+.0f}",
                )
                for r in rows
            ],
        )
    )
    console.print(
        f"held out, {held['points']} points: median |error| "
        f"{100 * held['median_abs_error']:.1f}%, worst {100 * held['max_abs_error']:.1f}%, "
        f"mean error {100 * held['mean_error']:+.1f}% (negative: the model is faster)"
    )


def _jsonable(value: Any) -> Any:
    from suanli.cli.common import to_jsonable

    return to_jsonable(value)


def register(app: typer.Typer) -> None:
    app.add_typer(perf_app, name="perf")
