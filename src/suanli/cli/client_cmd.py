"""HTTP client commands for a running exchange: ``suanli offers|requests|quote|leases``.

Every command takes ``--url`` and ``--key`` (or ``$SUANLI_URL`` / ``$SUANLI_KEY``) and talks
to the exchange through :class:`suanli.client.ExchangeClient` (:func:`suanli.cli.remote.connect`):
POSTs carry a fresh ``Idempotency-Key`` and are retried once with the same key when the
connection drops, so a retry never creates a second object; server errors come back as the
same error class, one-line message and hint the API returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from suanli.cli.common import console, print_json, table
from suanli.cli.remote import KEY, URL, connect
from suanli.errors import InvalidRequest

JSON = typer.Option(False, "--json", help="print one JSON document")
LIMIT = typer.Option(50, "--limit", min=1, max=500, help="page size")
OFFSET = typer.Option(0, "--offset", min=0, help="rows to skip")

offers_app = typer.Typer(help="Offers on the exchange: list, add, withdraw.", no_args_is_help=True)
requests_app = typer.Typer(help="Buyers' requests: submit, list.", no_args_is_help=True)
leases_app = typer.Typer(help="Leases: list, show, release, add-replica.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(offers_app, name="offers")
    app.add_typer(requests_app, name="requests")
    app.add_typer(leases_app, name="leases")
    app.command("quote")(quote)


def _show(items: list[dict[str, Any]], title: str, columns: list[str], as_json: bool,
          page: dict[str, Any] | None = None) -> None:  # fmt: skip
    if as_json:
        print_json(page if page is not None else items)
        return
    console.print(table(title, columns, [[i.get(c) for c in columns] for i in items]))
    if page is not None and page.get("next_offset") is not None:
        console.print(f"{page['total']} in all; next page: --offset {page['next_offset']}")


OFFER_COLUMNS = ["id", "site", "gpu", "available", "count", "price_cny_per_gpu_hour", "seller"]


@offers_app.command("list")
def offers_list(
    q: str | None = typer.Option(None, "--filter", "-f", help="e.g. 'gpu=H100 count>=8 hub=west'"),
    mine: bool = typer.Option(False, "--mine", help="only your own offers"),
    sort: str = typer.Option("id", "--sort", help="id, price, available, ... (-x: desc)"),
    limit: int = LIMIT,
    offset: int = OFFSET,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Search the open offers."""
    with connect(url, key) as client:
        page = client.list_offers(q=q, mine=mine, sort=sort, limit=limit, offset=offset)
    _show(page["items"], "Offers", OFFER_COLUMNS, as_json, page)


@offers_app.command("add")
def offers_add(
    site: str = typer.Option(..., help="site id or name, e.g. zhongwei"),
    gpu: str = typer.Option(..., help="GPU model, e.g. H100"),
    count: int = typer.Option(..., min=1, help="GPUs offered"),
    price: float = typer.Option(..., help="CNY per GPU-hour"),
    gpus_per_node: int = typer.Option(8, help="GPUs per node"),
    fabric: str = typer.Option("nvlink-ib", help="nvlink-ib, nvlink-roce, pcie-eth, ..."),
    interruptible: bool = typer.Option(False, help="spot capacity that may be preempted"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """List idle GPUs (seller key)."""
    with connect(url, key) as client:
        offer = client.add_offer(
            site=site, gpu=gpu, count=count, price_cny_per_gpu_hour=price,
            gpus_per_node=gpus_per_node, fabric=fabric, interruptible=interruptible,
        )  # fmt: skip
    _show([offer], "Offer listed", OFFER_COLUMNS, as_json, offer if as_json else None)


@offers_app.command("withdraw")
def offers_withdraw(
    offer_id: int = typer.Argument(..., help="offer id"),
    gpus: int | None = typer.Option(None, min=1, help="GPUs to withdraw (default: all free)"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Take free GPUs of one of your offers off the market."""
    with connect(url, key) as client:
        offer = client.withdraw_offer(offer_id, gpus)
    _show([offer], "Offer after withdrawal", OFFER_COLUMNS, as_json, offer if as_json else None)


def _load_file(path: Path) -> dict[str, Any]:
    from suanli.errors import DataFileError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise DataFileError(f"not valid JSON/YAML: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise DataFileError("expected one request object", path=str(path))
    return data


def _regions(values: list[str]) -> dict[str, float]:
    regions: dict[str, float] = {}
    for value in values:
        city, _, weight = value.partition("=")
        try:
            regions[city.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise InvalidRequest(
                f"cannot read region {value!r}", field="region", hint="write CITY or CITY=WEIGHT"
            ) from None
    return regions


@requests_app.command("submit")
def requests_submit(
    file: Path | None = typer.Option(None, "--file", help="a request as JSON or YAML"),
    model: str | None = typer.Option(None, help="serve: model to serve"),
    rate: float | None = typer.Option(None, help="serve: requests per second"),
    prompt_tokens: int = typer.Option(1000, help="serve: mean prompt tokens"),
    output_tokens: int = typer.Option(250, help="serve: mean output tokens"),
    ttft_ms: float = typer.Option(800.0, help="serve: time to first token target"),
    tpot_ms: float = typer.Option(50.0, help="serve: time per output token target"),
    region: list[str] = typer.Option([], "--region", help="serve: CITY[=WEIGHT], repeatable"),
    name: str = typer.Option("", help="a label"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Submit a request (buyer key): a file (serve/batch/train), or a serve request inline."""
    if file is not None:
        body = _load_file(file)
    else:
        if model is None or rate is None or not region:
            raise InvalidRequest(
                "an inline serve request needs --model, --rate and at least one --region",
                field="model",
                hint="or pass --file request.json (see the README for batch and train)",
            )
        body = {
            "kind": "serve", "name": name, "model": model, "rate_per_s": rate,
            "prompt_tokens": prompt_tokens, "output_tokens": output_tokens,
            "ttft_ms": ttft_ms, "tpot_ms": tpot_ms, "regions": _regions(region),
        }  # fmt: skip
    with connect(url, key) as client:
        created = client.submit_request(body)
    _show([created], "Request submitted", ["id", "kind", "name", "status"], as_json,
          created if as_json else None)  # fmt: skip


@requests_app.command("list")
def requests_list(
    limit: int = LIMIT,
    offset: int = OFFSET,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Your requests, newest first."""
    with connect(url, key) as client:
        page = client.list_requests(limit=limit, offset=offset)
    _show(page["items"], "Requests", ["id", "kind", "name", "status", "created_at"], as_json, page)


def quote(
    request_id: int = typer.Argument(..., help="the request to price"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Price a request against the open offers (reserves nothing)."""
    with connect(url, key) as client:
        result = client.quote(request_id)
    if as_json:
        print_json(result)
        return
    state = "feasible" if result["feasible"] else "not feasible"
    console.print(
        f"quote {result['id']} for request {request_id}: {state}, {result['gpus']} GPUs, "
        f"{result['cost_cny_per_hour']:.2f} CNY/hour",
        highlight=False,
    )
    rows = result["result"].get("assignments", [])
    columns = ["offer_id", "site", "gpu", "gpus", "cost_cny_per_hour"]
    console.print(table("Placement", columns, [[r.get(c) for c in columns] for r in rows]))
    if result["result"].get("unplaced_reason"):
        console.print(f"why not: {result['result']['unplaced_reason']}", highlight=False)


@leases_app.command("list")
def leases_list(
    limit: int = LIMIT,
    offset: int = OFFSET,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Leases you hold (buyer), grant (seller) or all (operator)."""
    with connect(url, key) as client:
        page = client.list_leases(limit=limit, offset=offset)
    columns = ["id", "offer_id", "buyer", "seller", "gpu", "site", "gpus",
               "price_cny_per_gpu_hour", "status"]  # fmt: skip
    _show(page["items"], "Leases", columns, as_json, page)


@leases_app.command("show")
def leases_show(
    lease_id: int = typer.Argument(..., min=1, help="lease id"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """One lease: its replicas and, per hour, what the gateways measured (calls, TTFT,
    TPOT, tokens), its SLO attainment and the credit the rule gives."""
    with connect(url, key) as client:
        lease = client.get_lease(lease_id)
        replicas = client.list_replicas(lease_id)
        outcomes = client.lease_outcomes(lease_id)
    if as_json:
        print_json({"lease": lease, "replicas": replicas, "outcomes": outcomes})
        return
    console.print(
        f"lease {lease['id']}: {lease['gpus']} x {lease['gpu']} at {lease['site']}, "
        f"{lease['price_cny_per_gpu_hour']} CNY/GPU-h, {lease['status']}",
        highlight=False,
    )
    targets = outcomes.get("targets")
    if targets:
        console.print(
            f"targets: TTFT <= {targets['ttft_ms']:g} ms, TPOT <= {targets['tpot_ms']:g} ms "
            f"for {targets['percentile']:g} % of calls",
            highlight=False,
        )
    else:
        console.print("targets: none (the lease was not ordered for a serve request)")
    console.print(table("Replicas", ["id", "model", "url", "health", "emulated"],
                        [[r["id"], r["model"], r["url"], r["health"], r["emulated"]]
                         for r in replicas]))  # fmt: skip
    rows = []
    for h in outcomes["hours"]:
        attainment = h["attainment"]
        rows.append(
            [
                h["hour"][5:13].replace("T", " ") + "h",  # MM-DD HHh (UTC)
                h["calls"],
                "-" if attainment is None else f"{attainment * 100:.1f}%",
                "-" if h["mean_ttft_ms"] is None else f"{h['mean_ttft_ms']:.1f}",
                "-" if h["mean_tpot_ms"] is None else f"{h['mean_tpot_ms']:.1f}",
                h["output_tokens"],
                f"{h['credit_fen'] / 100:.2f}",
                "yes" if h["settled"] else "no",
            ]
        )
    console.print(
        table(
            "Hours (UTC)",
            ["hour", "calls", "met", "ttft ms", "tpot ms", "out tok", "credit CNY", "settled"],
            rows,
        )
    )


@leases_app.command("add-replica")
def leases_add_replica(
    lease_id: int = typer.Argument(..., min=1, help="lease id"),
    model: str = typer.Option(..., "--model", help="the model name the replica serves"),
    endpoint: str = typer.Option(..., "--endpoint", help="its OpenAI API base URL"),
    emulated: bool = typer.Option(False, "--emulated", help="it is suanli emulate-engine"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Register a serving replica's endpoint for a lease (seller, or its buyer)."""
    with connect(url, key) as client:
        replica = client.add_replica(lease_id, model=model, url=endpoint, emulated=emulated)
    if as_json:
        print_json(replica)
        return
    console.print(f"replica {replica['id']} of lease {lease_id}: {replica['url']}", highlight=False)
