"""Fixtures for the dashboard tests: a real exchange on loopback with a temp SQLite file,
keys for two buyers, a seller and the operator, and a little market data."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from suanli.store import Caller, Database, create_key
from suanli.store.offers import create_offer
from suanli.store.orders import place_order
from suanli.store.requests import create_quote, create_request
from tests.web.factories import backdate_offers, insert_history


def build_app(url: str) -> Any:
    """The service's app (which includes the dashboard's router)."""
    from suanli.app import create_app

    return create_app(url)


@dataclass
class LiveServer:
    url: str
    db: Database
    keys: dict[str, str]
    callers: dict[str, Caller]

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(db: Database) -> tuple[dict[str, str], dict[str, Caller]]:
    """Keys, offers across hubs, two buyers' requests, and a few fills."""
    keys: dict[str, str] = {}
    callers: dict[str, Caller] = {}
    with db.write() as s:
        for role, name in (
            ("seller", "ningxia-dc"),
            ("seller", "guizhou-dc"),
            ("buyer", "alice-ai"),
            ("buyer", "bob-ai"),
            ("operator", "exchange"),
        ):
            k = create_key(s, role=role, name=name)
            keys[name] = k.secret
            callers[name] = Caller(k.key_id, role, k.tenant)
        offers = []
        for seller, site, gpu, count, price in (
            ("ningxia-dc", "zhongwei", "H100", 256, 9.8),
            ("ningxia-dc", "zhongwei", "H20", 512, 4.9),
            ("ningxia-dc", "qingyang", "A800", 128, 6.5),
            ("guizhou-dc", "guian", "H100", 128, 10.4),
            ("guizhou-dc", "guian", "L20", 64, 2.9),
            ("guizhou-dc", "horinger", "H800", 96, 9.1),
            ("guizhou-dc", "shanghai-metro", "H100", 32, 15.5),
            ("guizhou-dc", "beijing-metro", "H20", 48, 7.2),
            ("ningxia-dc", "yrd-qingpu", "H200", 64, 16.0),
            ("ningxia-dc", "shaoguan", "RTX-4090", 96, 1.9),
        ):
            offers.append(
                create_offer(
                    s,
                    seller,
                    {"site": site, "gpu": gpu, "count": count, "price_cny_per_gpu_hour": price},
                )
            )
        alice = callers["alice-ai"]
        bob = callers["bob-ai"]
        spec = {
            "kind": "serve",
            "model": "Qwen2.5-32B",
            "rate_per_s": 40,
            "prompt_tokens": 1000,
            "output_tokens": 200,
            "ttft_ms": 800,
            "tpot_ms": 50,
            "regions": {"shanghai": 0.6, "beijing": 0.4},
            "rtt_budget_ms": 50,
        }
        req_a = create_request(s, alice, kind="serve", name="alice-chat", spec=spec)
        create_request(s, bob, kind="serve", name="bob-secret-bot", spec=spec)
        sizing = [{"gpu": "H100-SXM", "tp": 2, "replicas": 8, "gpus": 16, "ttft_ms": 420.0}]
        placed = [{"offer_id": offers[0].id, "site": "zhongwei", "gpu": "H100-SXM", "gpus": 16}]
        create_quote(
            s,
            alice,
            req_a,
            feasible=True,
            cost_cny_per_hour=16 * 9.8,
            gpus=16,
            result={"kind": "serve", "sizing": sizing, "assignments": placed},
        )
        place_order(s, alice, [(offers[0].id, 16)], request_id=req_a.id, hours=24)
        place_order(s, alice, [(offers[3].id, 8)], hours=12)
        place_order(s, bob, [(offers[1].id, 32)], hours=48)
    return keys, callers


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    port = _free_port()
    # ws="none": the dashboard uses no websockets, and uvicorn's auto choice imports the
    # deprecated websockets.legacy where that package is installed (warnings are errors here).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("web-db")
    app = build_app(f"sqlite:///{folder / 'exchange.db'}")
    db = app.state.db
    keys, callers = seed(db)
    backdate_offers(db, days=4)
    for i, gpu in enumerate(("H20", "A800-SXM-80GB", "H800-SXM", "RTX-4090", "L20")):
        insert_history(db, 120, hours_back=72, seed=i, gpu=gpu, active_share=0.15, max_hours=8)
    with serve(app) as url:
        yield LiveServer(url, db, keys, callers)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    chosen = os.environ.get("SUANLI_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
