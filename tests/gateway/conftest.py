"""A served lease end to end: an exchange with a buyer's serve request and two leases (one
near Shanghai, one in Ningxia), an emulated replica on each (child processes), and
``suanli gateway`` on a loopback port."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanli.app import create_app
from suanli.bench.serving import EmulatorProcess, ThreadServer
from suanli.gateway.app import Gateway, GatewayConfig, create_gateway_app
from suanli.store import create_key

MODEL = "Qwen2.5-7B"
GPU = "H100"
NEAR, FAR = "yrd-qingpu", "zhongwei"  # Shanghai's nearest site, and one 1,500 km away
TARGETS = {"ttft_ms": 60.0, "tpot_ms": 30.0, "percentile": 90.0}


@dataclass
class Served:
    db_url: str
    client: TestClient  # the exchange's API
    headers: dict[str, dict[str, str]]
    keys: dict[str, str]
    leases: dict[str, int]  # site -> lease id
    emulators: dict[str, EmulatorProcess]
    server: ThreadServer
    gateway: Gateway

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def flush(self) -> None:
        self.server.call(self.gateway.flush())

    def refresh(self) -> None:
        self.server.call(self.gateway.refresh())


def _exchange(db_url: str) -> tuple[Any, dict[str, dict[str, str]], dict[str, str]]:
    app = create_app(db_url)
    keys: dict[str, str] = {}
    with app.state.db.write() as session:
        for who, role, region in (
            ("seller", "seller", None),
            ("buyer", "buyer", None),
            ("buyer_sh", "buyer", "Shanghai"),
            ("operator", "operator", None),
        ):
            tenant = "alpha-ai" if who.startswith("buyer") else who
            keys[who] = create_key(
                session, role=role, name=who, tenant=tenant, region=region
            ).secret
    headers = {who: {"Authorization": f"Bearer {k}"} for who, k in keys.items()}
    return app, headers, keys


def _lease_two_sites(client: TestClient, headers: dict[str, dict[str, str]]) -> dict[str, int]:
    offers = {}
    for site in (NEAR, FAR):
        r = client.post(
            "/offers",
            json={
                "site": site,
                "gpu": GPU,
                "count": 8,
                "gpus_per_node": 8,
                "price_cny_per_gpu_hour": 13.7,
                "fabric": "nvlink-ib",
            },
            headers=headers["seller"],
        )
        assert r.status_code == 201, r.text
        offers[site] = r.json()["id"]
    spec = {
        "kind": "serve",
        "model": MODEL,
        "rate_per_s": 5,
        "prompt_tokens": 100,
        "output_tokens": 8,
        "regions": {"Shanghai": 0.7, "Xi'an": 0.3},
        **TARGETS,
    }
    r = client.post("/requests", json=spec, headers=headers["buyer"])
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    r = client.post(
        "/orders",
        json={
            "items": [{"offer_id": offers[s], "gpus": 1} for s in (NEAR, FAR)],
            "request_id": request_id,
        },
        headers=headers["buyer"],
    )
    assert r.status_code == 201, r.text
    return {lease["site"]: lease["id"] for lease in r.json()["leases"]}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    db_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    app, headers, keys = _exchange(db_url)
    emulators = {
        NEAR: EmulatorProcess(MODEL, GPU),
        FAR: EmulatorProcess(MODEL, GPU),
    }
    server = None
    try:
        with TestClient(app) as client:
            leases = _lease_two_sites(client, headers)
            for site, emu in emulators.items():
                emu.wait()
                r = client.post(
                    f"/leases/{leases[site]}/replicas",
                    json={"model": MODEL, "url": emu.url, "emulated": True},
                    headers=headers["seller"],
                )
                assert r.status_code == 201, r.text
            gw_app = create_gateway_app(
                db_url,
                config=GatewayConfig(refresh_s=0.5, flush_s=3600, probe_s=0.2, record_calls=True),
            )
            server = ThreadServer(gw_app).start()
            yield Served(
                db_url=db_url,
                client=client,
                headers=headers,
                keys=keys,
                leases=leases,
                emulators=emulators,
                server=server,
                gateway=gw_app.state.gateway,
            )
    finally:
        if server is not None:
            server.stop()
        for emu in emulators.values():
            emu.stop()
