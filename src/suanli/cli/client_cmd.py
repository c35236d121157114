"""HTTP client commands for a running exchange: ``suanli offers|requests|quote|leases``.

Every command takes ``--url`` and ``--key`` (or ``$SUANLI_URL`` / ``$SUANLI_KEY``). POSTs
carry a fresh ``Idempotency-Key`` and are retried once with the same key when the
connection drops, so a retry never creates a second object. Server errors come back as the
same one-line message and hint the API returned.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import typer

from suanli.cli.common import console, print_json, table
from suanli.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    SuanliError,
    Unauthorized,
    Unavailable,
)

DEFAULT_URL = "http://127.0.0.1:8000"

URL = typer.Option(DEFAULT_URL, "--url", envvar="SUANLI_URL", help="exchange base URL")
KEY = typer.Option(None, "--key", envvar="SUANLI_KEY", help="API key (suanli admin create-key)")
JSON = typer.Option(False, "--json", help="print one JSON document")
LIMIT = typer.Option(50, "--limit", min=1, max=500, help="page size")
OFFSET = typer.Option(0, "--offset", min=0, help="rows to skip")

offers_app = typer.Typer(help="Offers on the exchange: list, add, withdraw.", no_args_is_help=True)
requests_app = typer.Typer(help="Buyers' requests: submit, list.", no_args_is_help=True)
leases_app = typer.Typer(help="Leases: list.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(offers_app, name="offers")
    app.add_typer(requests_app, name="requests")
    app.add_typer(leases_app, name="leases")
    app.command("quote")(quote)


_STATUS_ERRORS: dict[int, type[SuanliError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    503: Unavailable,
}


def make_client(url: str, key: str | None) -> Any:
    """An ``httpx.Client`` for the exchange (tests replace this to run in-process)."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30.0)


def call(url: str, key: str | None, method: str, path: str, **kwargs: Any) -> Any:
    """One request; JSON back, or the server's error raised as a :class:`SuanliError`."""
    import httpx

    if method == "POST":
        kwargs.setdefault("headers", {})["Idempotency-Key"] = uuid.uuid4().hex
    attempts = 2 if method == "POST" else 1
    with make_client(url, key) as client:
        for attempt in range(attempts):
            try:
                response = client.request(method, path, **kwargs)
                break
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    continue
                raise Unavailable(
                    f"cannot reach the exchange at {url}: {exc}",
                    hint="start it with 'suanli serve' or point --url / SUANLI_URL at it",
                ) from None
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:200]}
    if response.status_code >= 400:
        error = _STATUS_ERRORS.get(response.status_code, SuanliError)
        message = str(body.get("message", f"HTTP {response.status_code}"))
        hint = body.get("hint")
        if response.status_code == 401 and not key:
            hint = "pass --key or set SUANLI_KEY (suanli admin create-key makes one)"
        raise error(message, hint=hint)
    return body


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
    params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": sort}
    if q:
        params["q"] = q
    if mine:
        params["mine"] = "true"
    page = call(url, key, "GET", "/offers", params=params)
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
    body = {
        "site": site, "gpu": gpu, "count": count, "price_cny_per_gpu_hour": price,
        "gpus_per_node": gpus_per_node, "fabric": fabric, "interruptible": interruptible,
    }  # fmt: skip
    offer = call(url, key, "POST", "/offers", json=body)
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
    body: dict[str, Any] = {} if gpus is None else {"gpus": gpus}
    offer = call(url, key, "POST", f"/offers/{offer_id}/withdraw", json=body)
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
    created = call(url, key, "POST", "/requests", json=body)
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
    page = call(url, key, "GET", "/requests", params={"limit": limit, "offset": offset})
    _show(page["items"], "Requests", ["id", "kind", "name", "status", "created_at"], as_json, page)


def quote(
    request_id: int = typer.Argument(..., help="the request to price"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Price a request against the open offers (reserves nothing)."""
    result = call(url, key, "POST", "/quotes", json={"request_id": request_id})
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
    page = call(url, key, "GET", "/leases", params={"limit": limit, "offset": offset})
    columns = ["id", "offer_id", "buyer", "seller", "gpu", "site", "gpus",
               "price_cny_per_gpu_hour", "status"]  # fmt: skip
    _show(page["items"], "Leases", columns, as_json, page)
