"""``suanli index``: the GPU rental price index, from a running exchange (``--url``) or from
the local exchange database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.cli.common import console, print_json, table


def register(app: typer.Typer) -> None:
    app.command("index")(index)


def _from_url(url: str, gpu: str, hub: str | None, period: str, pricing: str) -> dict[str, Any]:
    from suanli.cli.remote import connect

    with connect(url) as client:
        return client.index(gpu, hub=hub, period=period, pricing=pricing)


def _local(gpu: str, hub: str | None, period: str, pricing: str) -> dict[str, Any]:
    import time

    from suanli.market.index import index_document
    from suanli.store.db import Database
    from suanli.store.market_tables import MarketStore

    market = MarketStore(Database.connect())  # Settings.database_url, else the default
    return index_document(
        market.state().fills, market.service_fills(), gpu=gpu, hub=hub, period=period,
        pricing=pricing, now_h=time.time() / 3600.0,
    )  # fmt: skip


def index(
    gpu: Annotated[str, typer.Option("--gpu", help="GPU model, e.g. H100 or H100-PCIe")],
    hub: Annotated[
        str | None, typer.Option("--hub", help="site, hub or region (east/west/...)")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="hour or day")] = "hour",
    pricing: Annotated[
        str, typer.Option("--pricing", help="on-demand, interruptible or reserved")
    ] = "on-demand",
    url: Annotated[
        str | None,
        typer.Option("--url", envvar="SUANLI_URL", help="exchange URL; default: local database"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """The GPU rental price index: GPU-hour-weighted, 10%-trimmed mean of fills per period."""
    from suanli.market.orders import resolve_gpu, resolve_hub

    resolve_gpu(gpu)  # fail fast, before any I/O
    if hub:
        resolve_hub(hub)
    if period not in ("hour", "day"):
        from suanli.errors import InvalidRequest

        raise InvalidRequest(f"period must be hour or day, not {period!r}", field="period")
    doc = _from_url(url, gpu, hub, period, pricing) if url else _local(gpu, hub, period, pricing)
    if as_json:
        print_json(doc)
        return
    rows = [
        (
            p["start_h"],
            p["cny_per_gpu_hour"],
            p["gpu_hours"],
            p["fills"],
            "yes" if p["stale"] else "",
        )
        for p in doc["points"][-24:]
    ]
    title = f"{doc['gpu']} {doc['pricing']} index ({doc['period']}, hub {doc['hub'] or 'all'})"
    console.print(table(title, ["period start (h)", "CNY/GPU-h", "GPU-hours", "fills", "stale"],
                        rows))  # fmt: skip
    if not rows:
        console.print("No fills yet for this GPU and pricing type.")
