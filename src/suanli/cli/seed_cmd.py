"""``suanli seed``: fill an exchange with a realistic market to try the product, then (with
``--serve``) run it and print the dashboard URL and the keys to paste.

Sellers list GPUs at every catalog site (western hubs cheaper than metro sites, prices near
the catalog's reference rental prices), buyers ask for outcomes (a chat service for two
cities, a training job, batch work), quote and order them, buy GPUs of single offers
directly, and trade in a call auction the operator clears; so the dashboard has offers,
leases, fills and a price index from the first page. Every step goes through the HTTP API
with :class:`suanli.client.ExchangeClient`, with the checks any client gets.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from suanli.cli.common import console, print_json

# GPU models a site of each role typically lists, and its price relative to the reference.
ROLE_GPUS = {
    "west": ("H100-SXM", "H800-SXM", "A800-SXM-80GB", "H20", "Ascend-910B"),
    "east": ("H100-SXM", "H20", "L40S", "L20"),
    "metro": ("H100-SXM", "L40S", "L20", "RTX-4090"),
    "central": ("A100-SXM-80GB", "Ascend-910B", "L20"),
}
ROLE_PRICE = {"west": 0.88, "east": 1.0, "metro": 1.15, "central": 0.95}
BUYERS = ("alpha-ai", "beta-labs", "gamma-cloud")

SERVE_REQUEST: dict[str, Any] = {
    "kind": "serve",
    "name": "chat assistant, Shanghai and Beijing",
    "model": "Qwen2.5-32B",
    "rate_per_s": 10,
    "prompt_tokens": 1000,
    "output_tokens": 300,
    "ttft_ms": 800,
    "tpot_ms": 50,
    "regions": {"shanghai": 0.6, "beijing": 0.4},
}
TRAIN_REQUEST: dict[str, Any] = {
    "kind": "train", "name": "fine-tune, 16 GPUs for three days", "gpus": 16,
    "gpu_types": ["H800", "H100"], "hours": 72,
}  # fmt: skip
BATCH_REQUEST: dict[str, Any] = {
    "kind": "batch", "name": "nightly embeddings", "gpu_hours": 64,
    "gpu_types": ["L20", "L40S"], "deadline_h": 8,
}  # fmt: skip


@dataclass
class Seeded:
    """What the seed made: keys by role and name, and counts of what is on the exchange."""

    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> name -> key
    offers: int = 0
    sites: int = 0
    orders: int = 0
    leases: int = 0
    auction_fills: int = 0
    requests: dict[str, str] = field(default_factory=dict)  # id -> status


def make_keys(database_url: str) -> dict[str, dict[str, str]]:
    """Fresh keys for every seller (one per hub, or per site off the hubs), the buyers and
    an operator, written straight to the database (as ``suanli admin create-key`` does)."""
    from suanli.catalog import sites
    from suanli.store import Database, create_key

    db = Database.connect(database_url)
    try:
        with db.write() as session:
            keys: dict[str, dict[str, str]] = {"seller": {}, "buyer": {}, "operator": {}}
            for name in sorted({seller_of(s.id) for s in sites()}):
                keys["seller"][name] = create_key(session, role="seller", name=name).secret
            for name in BUYERS:
                keys["buyer"][name] = create_key(session, role="buyer", name=name).secret
            keys["operator"]["ops"] = create_key(session, role="operator", name="ops").secret
    finally:
        db.dispose()
    return keys


def seller_of(site_id: str) -> str:
    """The seller listing at a site: one data-center operator per national hub."""
    from suanli.catalog import site

    s = site(site_id)
    owner = (s.hub or s.name).lower().replace(" ", "-").replace("'", "")
    return f"{owner}-dc"


def seed_exchange(client: Any, keys: dict[str, dict[str, str]], seed: int = 1) -> Seeded:
    """List offers at every catalog site, then trade on them; ``client`` is an
    :class:`~suanli.client.ExchangeClient` without a key (each step takes its own)."""
    from suanli.catalog import reference_prices, sites

    rng = random.Random(seed)
    prices = reference_prices()
    out = Seeded(keys=keys)
    sellers = {name: client.with_key(k) for name, k in keys["seller"].items()}
    buyers = [client.with_key(keys["buyer"][name]) for name in BUYERS]
    operator = client.with_key(keys["operator"]["ops"])
    offers: list[dict[str, Any]] = []
    for s in sites():
        seller = sellers[seller_of(s.id)]
        for gpu in rng.sample(ROLE_GPUS[s.role], k=min(3, len(ROLE_GPUS[s.role]))):
            price = prices[gpu] * ROLE_PRICE[s.role] * rng.uniform(0.94, 1.06)
            offers.append(
                seller.add_offer(
                    site=s.id,
                    gpu=gpu,
                    count=8 * rng.randint(4, 32),
                    price_cny_per_gpu_hour=round(price, 2),
                    gpus_per_node=8,
                    fabric="pcie-eth" if gpu in ("L20", "L40S", "RTX-4090") else "nvlink-ib",
                )
            )
        out.sites += 1
    out.offers = len(offers)

    # Buyers ask for outcomes; the exchange sizes and places them; two are ordered.
    for buyer, body, hours in (
        (buyers[0], SERVE_REQUEST, 24.0),
        (buyers[1], TRAIN_REQUEST, 72.0),
        (buyers[2], BATCH_REQUEST, None),
    ):
        request = buyer.submit_request(body)
        quote = buyer.quote(request["id"])
        if quote["feasible"] and hours is not None:
            buyer.place_order(quote_id=quote["id"], hours=hours)
            out.orders += 1

    # Direct buys of single offers make fills (and so an index) on several GPU models.
    for offer in rng.sample(offers, k=min(12, len(offers))):
        buyer = rng.choice(buyers)
        gpus = min(offer["available"], 8 * rng.randint(1, 2))
        if gpus > 0:
            buyer.place_order(
                items=[{"offer_id": offer["id"], "gpus": gpus}], hours=float(rng.choice([4, 8]))
            )
            out.orders += 1

    # A call auction on a western H100 offer: its seller asks (reserving the GPUs), the
    # buyers bid, and the operator clears.
    start = float(int(time.time() // 3600) + 1)
    west = [o for o in offers if o["gpu"] == "H100-SXM" and o.get("region_role") == "west"]
    if west:
        offer = west[0]
        seller = sellers[seller_of(offer["site"])]
        for price, gpus in ((9.8, 16), (10.6, 16)):
            seller.ask(offer_id=offer["id"], start_h=start, end_h=start + 4,
                       price_cny_per_gpu_hour=price, quantity_gpus=gpus)  # fmt: skip
        for buyer, price, gpus in zip(buyers, (12.0, 11.0, 10.0), (8, 16, 8), strict=True):
            buyer.bid(gpu=offer["gpu"], hub=offer["site"], start_h=start, end_h=start + 4,
                      price_cny_per_gpu_hour=price, quantity_gpus=gpus)  # fmt: skip
    cleared = operator.clear_market()
    out.auction_fills = int(cleared.get("fills", 0))
    out.leases = int(operator.list_leases(limit=1)["total"])
    for request in operator.list_requests(limit=50)["items"]:
        out.requests[str(request["id"])] = request["status"]
    return out


def seed_database(database_url: str, seed: int = 1) -> Seeded:
    """Make keys and seed the exchange at ``database_url`` through an in-process server."""
    from suanli.app import create_app
    from suanli.client import ExchangeClient, InProcessTransport

    keys = make_keys(database_url)
    transport = InProcessTransport(create_app(database_url))
    try:
        with ExchangeClient("http://seed.exchange", transport=transport) as client:
            return seed_exchange(client, keys, seed)
    finally:
        transport.close()


def show_seeded(seeded: Seeded, url: str) -> None:
    """Say what is on the exchange, where to look and which keys to paste."""
    console.print(
        f"Seeded: {seeded.offers} offers at {seeded.sites} sites from "
        f"{len(seeded.keys['seller'])} sellers; {len(seeded.keys['buyer'])} buyers placed "
        f"{seeded.orders} orders; the auction made {seeded.auction_fills} fills; "
        f"{seeded.leases} leases.",
        highlight=False,
    )
    # Keys on plain lines: a table would cut them at narrow widths, and they must paste whole.
    console.print("Keys to paste into the dashboard (shown once):", highlight=False)
    for role in ("operator", "buyer", "seller"):
        for name, secret in list(seeded.keys[role].items())[: 3 if role == "seller" else None]:
            console.print(f"  {role:<8} {name:<26} {secret}", highlight=False, soft_wrap=True)
    console.print(f"Dashboard: {url}/  (paste a key at the top right)", highlight=False)


def _default_url() -> str:
    import os

    from suanli.store.db import ENV_URL

    return os.environ.get(ENV_URL) or f"sqlite:///{Path('suanli-exchange.db').resolve()}"


def seed_cmd(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="exchange database (default $SUANLI_DATABASE_URL or ./suanli-exchange.db)",
    ),
    seed: int = typer.Option(1, "--seed", help="random seed for prices and sizes"),
    serve: bool = typer.Option(False, "--serve", help="then run the exchange and dashboard"),
    host: str = typer.Option("127.0.0.1", help="with --serve: address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="with --serve: TCP port"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Fill an exchange with a realistic market (offers at every site, orders, an auction)."""
    url = database_url or _default_url()
    seeded = seed_database(url, seed)
    if as_json:
        print_json({"database_url": url, "dashboard": f"http://{host}:{port}/", **vars(seeded)})
    else:
        show_seeded(seeded, f"http://{host}:{port}")
    if serve:
        serve_exchange(url, host, port)


def serve_exchange(database_url: str, host: str, port: int) -> None:
    """Run ``suanli serve`` on the database (blocks until interrupted)."""
    from suanli.cli.serve_cmd import serve

    serve(host=host, port=port, workers=1, database_url=database_url, log_level="warning",
          access_log=False, clear_every=60.0)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("seed")(seed_cmd)
