"""The demo's exchange stage: the real service on an embedded SQLite database.

Sellers from the China 2025 scenario list GPUs, a buyer asks for an outcome (serve a model to
two cities within a TTFT target), the exchange quotes it with sizing and placement, the buyer
orders the quote and the GPUs are leased; the price index is read back from the fills. Every
step goes through the HTTP API with :class:`suanli.client.ExchangeClient` (the client the
CLI uses) over an in-process ASGI transport, so the demo exercises exactly what
``suanli serve`` runs, lifespan included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suanli.cli.common import console, table

# (seller, site, GPU, GPUs, CNY per GPU-hour): western hubs ask less than metro sites.
DEMO_OFFERS = (
    ("ningxia-dc", "zhongwei", "H100-SXM", 256, 11.5),
    ("ningxia-dc", "zhongwei", "H20", 128, 6.0),
    ("guizhou-dc", "guian", "H800-SXM", 128, 12.0),
    ("mongolia-dc", "horinger", "A800-SXM-80GB", 128, 7.0),
    ("shanghai-idc", "shanghai-metro", "H100-SXM", 32, 14.5),
    ("beijing-idc", "beijing-metro", "H100-SXM", 16, 14.8),
    ("beijing-idc", "beijing-metro", "L20", 64, 4.5),
)

DEMO_REQUEST: dict[str, Any] = {
    "kind": "serve",
    "name": "chat assistant for Shanghai and Beijing",
    "model": "Qwen2.5-32B",
    "rate_per_s": 20,
    "prompt_tokens": 1000,
    "output_tokens": 300,
    "ttft_ms": 1500,
    "tpot_ms": 60,
    "regions": {"shanghai": 0.6, "beijing": 0.4},
}


def run_exchange_demo(database_path: Path) -> dict[str, Any]:
    """List offers, quote and order a serving request, and read the index back."""
    from suanli.app import create_app
    from suanli.client import ExchangeClient, InProcessTransport
    from suanli.errors import SuanliError
    from suanli.store import Database
    from suanli.store import create_key as make_key

    url = f"sqlite:///{database_path}"
    db = Database.connect(url)
    try:
        with db.write() as session:
            sellers = {
                seller: make_key(session, role="seller", name=seller).secret
                for seller in sorted({o[0] for o in DEMO_OFFERS})
            }
            buyer_key = make_key(session, role="buyer", name="alpha-ai").secret
    finally:
        db.dispose()

    transport = InProcessTransport(create_app(url))
    try:
        exchange = ExchangeClient("http://demo.exchange", transport=transport)
        for seller, site, gpu, count, price in DEMO_OFFERS:
            exchange.with_key(sellers[seller]).add_offer(
                site=site, gpu=gpu, count=count, price_cny_per_gpu_hour=price
            )
        buyer = exchange.with_key(buyer_key)
        request = buyer.submit_request(DEMO_REQUEST)
        quote = buyer.quote(request["id"])
        order = None
        if quote["feasible"]:
            order = buyer.place_order(quote_id=quote["id"], idempotency_key="demo-order-1")
        leases = buyer.list_leases()["items"]
        offers = buyer.list_offers(limit=50)
        index = None
        if leases:
            try:
                index = exchange.index(leases[0]["gpu"])
            except SuanliError:
                index = None  # the demo still shows the trade without an index
    finally:
        transport.close()
    return {
        "database": str(database_path),
        "request": request,
        "quote": quote,
        "order": order,
        "leases": leases,
        "offers": offers["items"],
        "index": index,
    }


def show_exchange_demo(outcome: dict[str, Any]) -> None:
    """Print the exchange stage's result."""
    quote = outcome["quote"]
    req = DEMO_REQUEST
    console.print(
        f"A buyer asks: serve {req['model']} at {req['rate_per_s']} req/s to Shanghai (60%) "
        f"and Beijing (40%), TTFT p95 <= {req['ttft_ms']} ms, TPOT <= {req['tpot_ms']} ms.",
        highlight=False,
    )
    if not quote["feasible"]:
        console.print(f"The exchange cannot place it: {quote['result']}", highlight=False)
        return
    console.print(
        f"Quote: {quote['gpus']} GPUs at {quote['cost_cny_per_hour']:,.1f} CNY/h "
        "(sizing + placement over every open offer; nothing reserved until ordered).",
        highlight=False,
    )
    console.print(
        table(
            "Leases after the order (GPUs reserved on the chosen offers)",
            ["lease", "site", "hub", "GPU", "GPUs", "CNY/GPU-h", "status"],
            [
                (
                    x["id"],
                    x["site"],
                    x["hub"] or "-",
                    x["gpu"],
                    x["gpus"],
                    x["price_cny_per_gpu_hour"],
                    x["status"],
                )
                for x in outcome["leases"]
            ],
        )
    )
    console.print(
        table(
            "Offers on the exchange now",
            ["offer", "seller", "site", "GPU", "listed", "free", "CNY/GPU-h"],
            [
                (
                    o["id"],
                    o["seller"],
                    o["site"],
                    o["gpu"],
                    o["count"],
                    o["available"],
                    o["price_cny_per_gpu_hour"],
                )
                for o in outcome["offers"]
            ],
        )
    )
    index = outcome["index"]
    if index and index.get("latest_cny_per_gpu_hour") is not None:
        console.print(
            f"Price index {index['gpu']} ({index['pricing']}, {index['period']}ly, from the "
            f"exchange's own fills): {index['latest_cny_per_gpu_hour']:.2f} CNY per GPU-hour.",
            highlight=False,
        )
    console.print(f"Exchange database (SQLite): {outcome['database']}", highlight=False)
