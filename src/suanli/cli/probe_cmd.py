"""``suanli probe``: identify, measure and verify this machine's GPUs.

Exit codes: 0 record written (whatever the verdicts), 3 no GPU or no driver (the record is
not made), 2 any other error. Imports NumPy, PyTorch and the probe only inside the command,
so it runs on a GPU node that has neither pydantic nor FastAPI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from suanli.cli.common import console, err_console, print_json, table
from suanli.errors import InvalidRequest, Unavailable

#: Exit status when the machine has no usable GPU or driver.
EXIT_NO_GPU = 3


def probe(
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes, done within 60 s.")] = False,
    upload: Annotated[
        bool, typer.Option("--upload", help="Send the record to the exchange.")
    ] = False,
    url: Annotated[str, typer.Option(help="Exchange URL for --upload.")] = "http://127.0.0.1:8000",
    key: Annotated[
        str, typer.Option(help="Seller API key for --upload.", envvar="SUANLI_KEY")
    ] = "",
    out: Annotated[Path | None, typer.Option(help="Also write the record to this file.")] = None,
) -> None:
    """Detect the GPUs, measure matmul/HBM/host-link/decode speed and judge each card."""
    if upload and not key:
        raise InvalidRequest("--upload needs --key (a seller API key)", field="key")
    from suanli.probe.run import probe as run_probe
    from suanli.probe.run import summary_rows

    nonce = None
    if upload:
        from suanli.cli import remote
        from suanli.client import ExchangeClient

        with ExchangeClient(url, key, transport=remote.transport) as client:
            nonce = client.verification_challenge()["nonce"]
    try:
        record = run_probe(quick=quick, challenge=nonce)
    except Unavailable as exc:
        if as_json:
            print(json.dumps(exc.to_dict()))
        err_console.print(f"[bold red]no GPU:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"To fix: {exc.hint}", markup=False, highlight=False)
        raise typer.Exit(code=EXIT_NO_GPU) from None
    if out is not None:
        out.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    answer = None
    if upload:
        from suanli.cli import remote
        from suanli.probe.upload import upload as send

        answer = send(record, url=url, key=key, transport=remote.transport)
        err_console.print(f"uploaded: {answer}", highlight=False)
    if as_json:
        print_json(record if answer is None else {**record, "upload": answer})
        return
    console.print(
        table(
            f"suanli probe ({record['mode']}, {record['duration_s']:.0f} s)",
            [
                "GPU",
                "reported",
                "catalog",
                "bf16 TFLOP/s",
                "fp8 TFLOP/s",
                "HBM TB/s",
                "H2D GB/s",
                "decode ms",
                "verdict",
            ],
            summary_rows(record),
        )
    )
    for entry in record["gpus"]:
        for reason in entry["verdict"]["reasons"]:
            console.print(f"GPU {entry['index']}: {reason}", highlight=False)
    console.print(f"sha256 {record['sha256']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
