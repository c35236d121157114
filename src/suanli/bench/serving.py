"""Running the pieces on one machine (tests, the benchmark, demos): an ASGI app on a
loopback port in a background thread, and ``suanli emulate-engine`` as a child process
(so a test can kill it like a real replica dying)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from suanli.errors import Unavailable

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise Unavailable(f"{url} did not come up within {timeout_s:g} s")
        time.sleep(0.1)


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="error",
            access_log=False,
            ws="none",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self._sock]))
        self.loop.close()

    def start(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise Unavailable("the server thread did not start")
            time.sleep(0.02)
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        """Run ``coro`` on the server's event loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class EmulatorProcess:
    """``suanli emulate-engine`` in a child process on a free port."""

    def __init__(self, model: str, gpu: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "suanli", "emulate-engine", "--model", model, "--gpu", gpu]
        cmd += ["--port", str(self.port), *extra]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )

    def wait(self) -> EmulatorProcess:
        wait_until_up(self.url + "/health")
        return self

    def kill(self) -> None:
        """Die at once, as a crashed server does (SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def lease_and_register(
    db_url: str,
    *,
    model: str,
    gpu: str,
    replicas: dict[str, str],
    targets: dict[str, float],
    regions: dict[str, float] | None = None,
    price_cny_per_gpu_hour: float = 13.7,
) -> tuple[str, dict[str, int]]:
    """On the exchange at ``db_url`` (in this process): a seller lists one GPU at each site
    of ``replicas`` (site -> endpoint URL), a buyer orders them for a serve request with
    ``targets`` (ttft_ms, tpot_ms, percentile), and the seller registers each endpoint.
    Returns the buyer's key and the lease id per site."""
    from suanli.app import create_app
    from suanli.client import ExchangeClient, InProcessTransport
    from suanli.store import create_key

    app = create_app(db_url)
    with app.state.db.write() as session:
        seller_key = create_key(session, role="seller", name="demo-seller").secret
        buyer_key = create_key(session, role="buyer", name="demo-buyer").secret
    transport = InProcessTransport(app)
    try:
        seller = ExchangeClient("http://exchange", seller_key, transport=transport)
        buyer = ExchangeClient("http://exchange", buyer_key, transport=transport)
        offers = {
            site: seller.add_offer(
                site=site,
                gpu=gpu,
                count=8,
                price_cny_per_gpu_hour=price_cny_per_gpu_hour,
                fabric="nvlink-ib",
            )["id"]
            for site in replicas
        }
        request = buyer.submit_request(
            {
                "kind": "serve",
                "model": model,
                "rate_per_s": 5,
                "prompt_tokens": 100,
                "output_tokens": 16,
                "regions": regions or {"Shanghai": 1.0},
                **targets,
            }
        )
        order = buyer.place_order(
            items=[{"offer_id": offers[s], "gpus": 1} for s in replicas],
            request_id=request["id"],
        )
        leases = {lease["site"]: int(lease["id"]) for lease in order["leases"]}
        for site, url in replicas.items():
            seller.add_replica(leases[site], model=model, url=url, emulated=True)
        seller.close()
        buyer.close()
    finally:
        transport.close()
        app.state.db.dispose()
    return buyer_key, leases
