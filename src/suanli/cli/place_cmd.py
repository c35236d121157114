"""``suanli place``: requests + offers (YAML, JSON or CSV files) to a placement, shown as a
table or ``--json``, optionally exported as SkyPilot tasks or Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from suanli.cli.common import console, err_console, print_json, table
from suanli.errors import DataFileError, InvalidRequest


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError("file not found", path=str(path), hint="Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot read: {exc}", path=str(path)) from None


def place_command(
    offers: Path = typer.Option(..., "--offers", help="Offers file (.yaml, .json or .csv)."),
    requests: Path = typer.Option(..., "--requests", help="Requests file (.yaml, .json, .csv)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    export: tuple[str, Path] | None = typer.Option(
        None, "--export", metavar="skypilot|k8s DIR", help="Write deployable files to DIR."
    ),
    method: str = typer.Option("auto", "--method", help="auto, milp or fast."),
    objective: str = typer.Option("cost", "--objective", help="cost or placed."),
    power_weight: float = typer.Option(0.0, "--power-weight", help="Weight of power cost."),
    explain: bool = typer.Option(True, "--explain/--no-explain", help="Explanations in JSON."),
) -> None:
    """Place requests on offers at least cost within latency, capacity and fabric limits."""
    from suanli.placement import place
    from suanli.placement.files import parse_offers, parse_requests

    offer_list = parse_offers(_read(offers), path=str(offers))
    demand_list = parse_requests(_read(requests), path=str(requests))
    if method not in ("auto", "milp", "fast"):
        raise InvalidRequest(f"unknown method {method!r}", field="method", hint="auto|milp|fast")
    if objective not in ("cost", "placed"):
        raise InvalidRequest(
            f"unknown objective {objective!r}", field="objective", hint="cost|placed"
        )
    try:
        placement = place(
            demand_list,
            offer_list,
            objective=objective,  # type: ignore[arg-type]
            method=method,  # type: ignore[arg-type]
            power_weight=power_weight,
        )
    except InvalidRequest as exc:
        raise _in_file(exc, offers, requests) from None
    written: list[str] = []
    if export is not None and export[0] is not None:
        written = _export(placement, export[0], export[1])
    if as_json:
        doc = placement.to_dict(explain=explain)
        if written:
            doc["exported"] = written
        print_json(doc)
        return
    _show(placement)
    for name in written:
        err_console.print(f"wrote {name}")


def _in_file(exc: InvalidRequest, offers: Path, requests: Path) -> InvalidRequest:
    """A check of the placement (unknown GPU, city, fabric...) as an error naming the file
    it came from, besides the item and field."""
    item = str(exc.context.get("item") or "")
    if isinstance(exc, DataFileError) or not item.startswith(("offer", "demand")):
        return exc
    path = offers if item.startswith("offer") else requests
    message = exc.message.removeprefix(f"{item}: ")
    return DataFileError(message, path=str(path), item=item, field=exc.field, hint=exc.hint)


def _export(placement: Any, fmt: str, directory: Path) -> list[str]:
    from suanli.placement.export import export

    if fmt not in ("skypilot", "k8s"):
        raise InvalidRequest(
            f"unknown export format {fmt!r}",
            field="export",
            hint="Use --export skypilot DIR or --export k8s DIR.",
        )
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in export(placement, fmt).items():  # type: ignore[arg-type]
        path = directory / name
        path.write_text(text, encoding="utf-8")
        out.append(str(path))
    return out


def _show(placement: Any) -> None:
    rows = []
    for demand_id, assignments in placement.assignments.items():
        ex = placement.explanations[demand_id]
        for a in assignments:
            rtt = ", ".join(f"{c} {ms:.0f}" for c, ms in a.rtt_ms.items()) or "-"
            rows.append(
                [
                    demand_id,
                    ex.kind,
                    a.offer_id,
                    a.site,
                    a.gpu,
                    f"{a.replicas} x {a.gpus_per_replica}",
                    a.cost_cny_per_hour,
                    rtt,
                ]
            )
    console.print(
        table(
            "Placement",
            ["demand", "kind", "offer", "site", "GPU", "units x GPUs", "CNY/h", "RTT ms"],
            rows,
        )
    )
    if placement.unplaced:
        console.print(
            table("Unplaced", ["demand", "reason"], [[d, r] for d, r in placement.unplaced.items()])
        )
    s = placement.summary()
    console.print(
        f"{s['placed']} of {s['demands']} placed, {s['total_cost_cny_per_hour']:,.2f} CNY/h "
        f"({s['method']}, {s['status']}"
        + (f", cost {s['gap']:.3%} above its lower bound" if s["gap"] is not None else "")
        + ")"
    )
    if s["unplaced_gpus"] or s["unplaced_gpus_bound"]:
        bound = s["unplaced_gpus_bound"]
        console.print(
            f"{s['unplaced_gpus']} GPUs unplaced"
            + (f" (at least {bound} must be: the lower bound)" if bound is not None else "")
        )


def register(app: typer.Typer) -> None:
    app.command("place")(place_command)
