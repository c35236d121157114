"""``suanli index``: the GPU rental price index, from a running exchange (``--url``) or from
the local exchange database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.cli.common import console, hour_iso, money, print_json, table


def register(app: typer.Typer) -> None:
    app.command("index")(index)


def _from_url(url: str, gpu: str, hub: str | None, period: str, pricing: str) -> dict[str, Any]:
    from suanli.cli.remote import connect

    with connect(url) as client:
        return client.index(gpu, hub=hub, period=period, pricing=pricing)


def _local(gpu: str, hub: str | None, period: str, pricing: str) -> dict[str, Any]:
    """The index of the local exchange database: the same function (and look-back window)
    as the API and the dashboard."""
    from suanli.store.db import Database
    from suanli.store.index import price_index_document

    db = Database.connect()  # Settings.database_url, else the default
    try:
        with db.read() as session:
            return price_index_document(session, gpu=gpu, hub=hub, period=period, pricing=pricing)
    finally:
        db.dispose()


def with_iso_times(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with each point's period start also as ISO 8601 UTC (``start``), next to the
    exchange clock's ``start_h`` (hours since 1970)."""
    points = [{**p, "start": hour_iso(p["start_h"])} for p in doc.get("points", [])]
    return {**doc, "points": points}


def index_rows(doc: dict[str, Any], last: int = 24) -> list[tuple[str, ...]]:
    """The table rows of the newest ``last`` periods: ISO dates, yuan, thousands separators."""
    return [
        (
            hour_iso(p["start_h"]),
            money(p["cny_per_gpu_hour"]),
            f"{p['gpu_hours']:,.1f}",
            f"{p['fills']:,}",
            "yes" if p["stale"] else "",
        )
        for p in doc["points"][-last:]
    ]


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
    doc = with_iso_times(doc)
    if as_json:
        print_json(doc)
        return
    rows = index_rows(doc)
    title = f"{doc['gpu']} {doc['pricing']} index ({doc['period']}, hub {doc['hub'] or 'all'})"
    columns = ["period start (UTC)", "¥/GPU-h", "GPU-hours", "fills", "stale"]
    console.print(table(title, columns, rows))
    if not rows:
        console.print("No fills yet for this GPU and pricing type.")
