"""The rest of the trade from the command line: ``suanli orders|market``, ``suanli offers
update``, ``suanli leases release`` and ``suanli requests show``.

``orders place`` shows what it will reserve and what it costs and asks ``Proceed? [Y/n]``
(``--yes`` skips the question); declining places nothing. Everything goes through
:class:`suanli.client.ExchangeClient`, so the exchange applies the same checks as for the
dashboard and the API.
"""

from __future__ import annotations

import math
import time
from typing import Any

import typer

from suanli.cli.client_cmd import (
    JSON,
    LIMIT,
    OFFER_COLUMNS,
    OFFSET,
    _show,
    leases_app,
    offers_app,
    requests_app,
)
from suanli.cli.common import console, print_json, table
from suanli.cli.remote import KEY, URL, connect
from suanli.errors import Infeasible, InvalidRequest

orders_app = typer.Typer(help="Direct orders: place (from a quote or an offer), list.",
                         no_args_is_help=True)  # fmt: skip
market_app = typer.Typer(help="The call-auction market: bid, ask, book, cancel, clear.",
                         no_args_is_help=True)  # fmt: skip

YES = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")
LEASE_COLUMNS = ["id", "offer_id", "gpu", "site", "gpus", "price_cny_per_gpu_hour", "status"]
PLAN_COLUMNS = ["offer_id", "site", "gpu", "gpus", "price_cny_per_gpu_hour", "cost_cny_per_hour"]
PLAN_HEADERS = ["offer", "site", "gpu", "gpus", "CNY/GPU-h", "CNY/h"]


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")
    app.add_typer(market_app, name="market")


# -- orders ------------------------------------------------------------------------------


def _confirm(plan: list[dict[str, Any]], hours: float | None, yes: bool, as_json: bool) -> None:
    """Show the plan and its cost; ask unless ``yes``. Declining exits 1, placing nothing."""
    per_hour = sum(float(p["cost_cny_per_hour"]) for p in plan)
    gpus = sum(int(p["gpus"]) for p in plan)
    if not as_json:
        console.print(table("Order plan", PLAN_HEADERS, [[p.get(c) for c in PLAN_COLUMNS]
                                                          for p in plan]))  # fmt: skip
        total = f", {per_hour * hours:,.2f} CNY for {hours:g} h" if hours else ""
        console.print(f"{gpus} GPUs, {per_hour:,.2f} CNY/hour{total}", highlight=False)
    if yes:
        return
    if not typer.confirm("Proceed?", default=True, err=as_json):
        console.print("No order placed.", highlight=False)
        raise typer.Exit(code=1)


@orders_app.command("place")
def orders_place(
    quote_id: int | None = typer.Option(None, "--quote", help="commit this quote's placement"),
    offer_id: int | None = typer.Option(None, "--offer", help="or buy GPUs of one offer"),
    gpus: int | None = typer.Option(None, "--gpus", min=1, help="with --offer: GPUs to buy"),
    hours: float | None = typer.Option(None, "--hours", min=0.001, help="lease length"),
    yes: bool = YES,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Place an order: show the plan and cost, ask, then reserve the GPUs and open leases."""
    if (quote_id is None) == (offer_id is None):
        raise InvalidRequest(
            "give exactly one of --quote ID or --offer ID",
            field="quote",
            hint="suanli quote REQUEST_ID prints a quote id; suanli offers list shows offers",
        )
    with connect(url, key) as client:
        if quote_id is not None:
            quote = client.get_quote(quote_id)
            if not quote["feasible"]:
                reason = quote["result"].get("unplaced_reason") or "nothing could be placed"
                raise Infeasible(f"quote {quote_id} is not feasible: {reason}",
                                 hint="quote the request again when offers change")  # fmt: skip
            plan = list(quote["result"].get("assignments", []))
            _confirm(plan, hours, yes, as_json)
            order = client.place_order(quote_id=quote_id, hours=hours)
        else:
            if gpus is None:
                raise InvalidRequest("--offer needs --gpus N", field="gpus")
            assert offer_id is not None
            offer = client.get_offer(offer_id)
            price = float(offer["price_cny_per_gpu_hour"])
            plan = [{"offer_id": offer_id, "site": offer["site"], "gpu": offer["gpu"],
                     "gpus": gpus, "price_cny_per_gpu_hour": price,
                     "cost_cny_per_hour": gpus * price}]  # fmt: skip
            _confirm(plan, hours, yes, as_json)
            order = client.place_order(items=[{"offer_id": offer_id, "gpus": gpus}], hours=hours)
    if as_json:
        print_json(order)
        return
    console.print(
        f"order {order['id']} {order['status']}: {order['gpus']} GPUs, "
        f"{order['cost_cny_per_hour']:,.2f} CNY/hour",
        highlight=False,
    )
    _show(order.get("leases", []), "Leases", LEASE_COLUMNS, False)


@orders_app.command("list")
def orders_list(
    limit: int = LIMIT,
    offset: int = OFFSET,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Your orders, newest first."""
    with connect(url, key) as client:
        page = client.list_orders(limit=limit, offset=offset)
    columns = ["id", "request_id", "quote_id", "status", "gpus", "cost_cny_per_hour",
               "created_at"]  # fmt: skip
    _show(page["items"], "Orders", columns, as_json, page)


# -- leases, offers, requests ------------------------------------------------------------


@leases_app.command("release")
def leases_release(
    lease_id: int = typer.Argument(..., help="lease id"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """End one of your active leases now; its GPUs go back on the offer."""
    with connect(url, key) as client:
        lease = client.release_lease(lease_id)
    _show([lease], "Lease released", LEASE_COLUMNS, as_json, lease if as_json else None)


@offers_app.command("update")
def offers_update(
    offer_id: int = typer.Argument(..., help="offer id"),
    price: float | None = typer.Option(None, "--price", min=0, help="CNY per GPU-hour"),
    count: int | None = typer.Option(None, "--count", min=0, help="GPUs listed in all"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Change your offer's price or size (reads its current version first)."""
    changes: dict[str, Any] = {}
    if price is not None:
        changes["price_cny_per_gpu_hour"] = price
    if count is not None:
        changes["count"] = count
    if not changes:
        raise InvalidRequest("nothing to change", field="price", hint="pass --price or --count")
    with connect(url, key) as client:
        current = client.get_offer(offer_id)
        offer = client.update_offer(offer_id, {"version": current["version"], **changes})
    _show([offer], "Offer updated", OFFER_COLUMNS, as_json, offer if as_json else None)


@requests_app.command("show")
def requests_show(
    request_id: int = typer.Argument(..., help="request id"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """One request: status, where it runs, the SLO per region and the placement's reasons."""
    with connect(url, key) as client:
        view = client.request_view(request_id)
    if as_json:
        print_json(view)
        return
    cost = view.get("cost_cny_per_hour")
    line = f"request {view['id']} ({view['kind']}"
    line += f", {view['model']})" if view.get("model") else ")"
    line += f": {view['status']}"
    if cost is not None:
        line += f", {cost:,.2f} CNY/hour"
    console.print(line, highlight=False)
    rows = view.get("assignments") or []
    columns = ["offer_id", "lease_id", "status", "site", "gpu", "gpus", "cost_cny_per_hour"]
    if rows:
        title = "Leases" if view.get("placement_source") == "leases" else "Quoted placement"
        console.print(table(title, columns, [[r.get(c) for c in columns] for r in rows]))
    regions = view.get("regions") or []
    if regions:
        slo = [
            [r["name"], r.get("rtt_ms"), r.get("ttft_ms"), r.get("ttft_target_ms"),
             _verdict(r.get("met"))]
            for r in regions
        ]  # fmt: skip
        console.print(table("SLO per region", ["region", "rtt_ms", "ttft_ms", "target_ms", "met"],
                            slo))  # fmt: skip
    console.print(f"why: {explain_line(view)}", highlight=False)


def _verdict(met: bool | None) -> str:
    return "unknown" if met is None else ("met" if met else "missed")


def explain_line(view: dict[str, Any]) -> str:
    """The placement's explanation in one line (what was considered, why others lost)."""
    if view.get("unplaced_reason"):
        return str(view["unplaced_reason"])
    ex = view.get("explanation") or {}
    if not ex:
        return "no quote yet (suanli quote ID)"
    rejected = ", ".join(
        f"{n} {r}" for r, n in sorted((ex.get("rejected_by_reason") or {}).items())
    )
    text = f"{ex.get('considered', 0)} offers considered"
    if ex.get("option"):
        text += f", chose {ex['option']}"
    return text + (f"; rejected: {rejected}" if rejected else "")


# -- the call-auction market -------------------------------------------------------------


def _window(start_h: float | None, hours: float) -> tuple[float, float]:
    """Hours on the exchange clock (hours since the Unix epoch); default start: next hour."""
    start = float(math.ceil(time.time() / 3600.0)) if start_h is None else start_h
    return start, start + hours


def _market_order(side: str, gpu: str | None, hub: str | None, offer_id: int | None,
                  price: float, gpus: int, hours: float, start_h: float | None, pricing: str,
                  aon: bool, url: str, key: str | None, as_json: bool) -> None:  # fmt: skip
    start, end = _window(start_h, hours)
    with connect(url, key) as client:
        order = client.market_order(
            side,  # type: ignore[arg-type]
            gpu=gpu, hub=hub, offer_id=offer_id, start_h=start, end_h=end,
            price_cny_per_gpu_hour=price, quantity_gpus=gpus,
            pricing=pricing, all_or_nothing=aon,  # type: ignore[arg-type]
        )  # fmt: skip
    _show([order], f"{side.capitalize()} placed", BOOK_COLUMNS, as_json,
          order if as_json else None)  # fmt: skip


BOOK_COLUMNS = ["id", "side", "offer_id", "gpu", "hub", "pricing", "start_h", "end_h",
                "price_cny_per_gpu_hour", "remaining_gpus"]  # fmt: skip
PRICE = typer.Option(..., "--price", min=0, help="CNY per GPU-hour (bid: at most; ask: at least)")
GPUS = typer.Option(..., "--gpus", min=1, help="GPUs")
HOURS = typer.Option(1.0, "--hours", min=0.001, help="window length")
START = typer.Option(None, "--start-h", help="window start, hours since 1970 (default: next hour)")
PRICING = typer.Option("on-demand", "--pricing", help="on-demand, interruptible or reserved")


@market_app.command("bid")
def market_bid(
    gpu: str = typer.Option(..., "--gpu", help="GPU model, e.g. H100"),
    hub: str = typer.Option(..., "--hub", help="site, hub or region, e.g. zhongwei"),
    price: float = PRICE,
    gpus: int = GPUS,
    hours: float = HOURS,
    start_h: float | None = START,
    pricing: str = PRICING,
    aon: bool = typer.Option(False, "--all-or-nothing", help="fill all the GPUs or none"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Bid for GPUs in the next auction (buyer key)."""
    _market_order("bid", gpu, hub, None, price, gpus, hours, start_h, pricing, aon, url, key,
                  as_json)  # fmt: skip


@market_app.command("ask")
def market_ask(
    offer_id: int = typer.Option(..., "--offer", help="your offer whose GPUs the ask sells"),
    gpu: str | None = typer.Option(None, "--gpu", help="default: the offer's GPU"),
    hub: str | None = typer.Option(None, "--hub", help="default: the offer's site"),
    price: float = PRICE,
    gpus: int = GPUS,
    hours: float = HOURS,
    start_h: float | None = START,
    pricing: str = PRICING,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Sell GPUs of one of your offers in the next auction (seller key); they are reserved
    while the ask rests."""
    _market_order("ask", gpu, hub, offer_id, price, gpus, hours, start_h, pricing, False, url,
                  key, as_json)  # fmt: skip


@market_app.command("book")
def market_book(
    limit: int = LIMIT,
    offset: int = OFFSET,
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Resting bids and asks: your own (all of them with the operator key)."""
    with connect(url, key) as client:
        page = client.book(limit=limit, offset=offset)
    _show(page["items"], "Order book", BOOK_COLUMNS, as_json, page)


@market_app.command("cancel")
def market_cancel(
    order_id: int = typer.Argument(..., help="market order id (suanli market book)"),
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Withdraw one of your resting bids or asks."""
    with connect(url, key) as client:
        answer = client.cancel_market_order(order_id)
    if as_json:
        print_json(answer)
    else:
        console.print(f"cancelled {order_id}", highlight=False)


@market_app.command("clear")
def market_clear(
    url: str = URL,
    key: str | None = KEY,
    as_json: bool = JSON,
) -> None:
    """Run one clearing round now (operator key); fills become leases."""
    with connect(url, key) as client:
        result = client.clear_market()
    if as_json:
        print_json(result)
        return
    console.print(
        f"cleared: {result.get('fills', 0)} fills, {result.get('volume_gpus', 0)} GPUs",
        highlight=False,
    )
    columns = ["instrument", "price_cny_per_gpu_hour", "volume_gpus", "bids", "asks"]
    rows = result.get("instruments") or []
    if rows:
        console.print(table("Clearing", columns, [[r.get(c) for c in columns] for r in rows]))
