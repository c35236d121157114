"""``suanli gateway``: the OpenAI-compatible API in front of a buyer's leased replicas.

``POST /v1/chat/completions``, ``POST /v1/completions`` (streamed over SSE or not) and
``GET /v1/models``, authenticated with the buyer's exchange key (``Authorization: Bearer``,
the same cached look-up as the exchange's API). The caller's region is the
``X-Suanli-Region`` header (a city or site), else the key's default region. Each call goes
to a replica chosen by :mod:`suanli.gateway.routing` and is forwarded and measured by
:mod:`suanli.gateway.proxy`.

Background tasks: the replica list is re-read from the database every ``refresh_s``; the
per-minute sums are added to the database every ``flush_s`` (and completed hours settled,
:func:`suanli.store.gateway.settle`, idempotent across gateways); replicas taken out are
probed (``GET /v1/models``) when their back-off ends. Several gateways may run against one
database: each keeps its own health view and adds its own sums.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from suanli.api.deps import caller_for_key
from suanli.gateway.outcomes import Aggregator, CallRecord, judge
from suanli.gateway.proxy import (
    Measured,
    UpstreamFailed,
    call_once,
    forward_stream,
    open_stream,
)
from suanli.gateway.ratelimit import RateLimiter
from suanli.gateway.routing import Pool, Replica, ReplicaState
from suanli.gateway.upstream import Pool as UpstreamPool
from suanli.gateway.upstream import UpstreamError
from suanli.market.slo import Targets
from suanli.store.db import Database
from suanli.store.keys import Caller

log = logging.getLogger("suanli.gateway")

REGION_HEADER = "x-suanli-region"
UPSTREAM_TTFT_HEADER = "x-suanli-upstream-ttft-ms"
REPLICA_HEADER = "x-suanli-replica"


@dataclass(slots=True)
class GatewayConfig:
    refresh_s: float = 2.0
    flush_s: float = 5.0
    probe_s: float = 1.0
    rate_per_s: float = 100.0  # per key
    burst: int = 200
    max_attempts: int = 3
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 300.0
    record_calls: bool = False  # keep every CallRecord in memory (tests, benchmarks)


@dataclass
class Gateway:
    """One gateway process's state."""

    db: Database
    config: GatewayConfig = field(default_factory=GatewayConfig)
    pool: Pool = field(default_factory=Pool)
    aggregator: Aggregator = field(default_factory=Aggregator)
    targets: dict[int, Targets | None] = field(default_factory=dict)  # by lease id
    sellers: dict[int, str] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    key_cache: dict[str, Any] = field(default_factory=dict)
    client: httpx.AsyncClient | None = None  # probes
    upstream: UpstreamPool | None = None  # calls
    limiter: RateLimiter | None = None
    loop: asyncio.AbstractEventLoop | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _writes: set[asyncio.Task[None]] = field(default_factory=set)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                self.config.read_timeout_s, connect=self.config.connect_timeout_s
            ),
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=1000),
        )
        self.upstream = UpstreamPool(
            connect_timeout_s=self.config.connect_timeout_s,
            read_timeout_s=self.config.read_timeout_s,
        )
        self.limiter = RateLimiter(self.config.rate_per_s, self.config.burst)
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._every(self.config.refresh_s, self.refresh)),
            asyncio.create_task(self._every(self.config.flush_s, self.flush)),
            asyncio.create_task(self._every(self.config.probe_s, self.probe)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.flush()
        if self.client is not None:
            await self.client.aclose()
        if self.upstream is not None:
            await self.upstream.close()

    async def _every(self, period_s: float, job: Any) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await job()
            except Exception:  # keep serving; the next round retries
                log.exception("gateway background job %s failed", job.__name__)

    async def refresh(self) -> None:
        """Re-read the registry (replicas of active leases) from the database."""
        from suanli.store.gateway import routable_replicas

        def read() -> list[Any]:
            with self.db.read() as session:
                return routable_replicas(session)

        rows = await asyncio.to_thread(read)
        self.targets = {r.lease_id: r.targets for r in rows}
        self.sellers = {r.lease_id: r.seller for r in rows}
        self.pool.sync(
            Replica(
                id=r.id,
                lease_id=r.lease_id,
                buyer=r.buyer,
                model=r.model,
                site=r.site,
                url=r.url,
                emulated=r.emulated,
            )
            for r in rows
        )

    async def flush(self) -> None:
        """Add the per-minute sums to the database and settle completed hours."""
        from suanli.store.gateway import add_minutes, settle

        sums = self.aggregator.drain()

        def write() -> None:
            with self.db.write() as session:
                if sums:
                    add_minutes(session, sums)
                settle(session)

        try:
            await asyncio.to_thread(write)
        except Exception:
            self.aggregator.restore(sums)
            raise

    async def probe(self) -> None:
        """Try the replicas whose back-off has ended; bring back those that answer."""
        assert self.client is not None
        for state in self.pool.due_for_probe(time.monotonic()):
            try:
                response = await self.client.get(state.replica.url + "/v1/models", timeout=2.0)
                up = response.status_code < 500
            except httpx.HTTPError:
                up = False
            if up:
                self.pool.succeeded(state)
                self.report(state, "up")
            else:
                self.pool.failed(state, time.monotonic())

    async def _record_health(self, replica_id: int, health: str) -> None:
        from suanli.store.gateway import set_health

        def write() -> None:
            with self.db.write() as session:
                set_health(session, replica_id, health)

        try:
            await asyncio.to_thread(write)
        except Exception:
            log.exception("could not record the health of replica %s", replica_id)

    # --- calls ---------------------------------------------------------------------------

    def caller(self, request: Request) -> Caller | None:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None
        return caller_for_key(self, secret.strip())

    def record(
        self, state: ReplicaState, region: str, at_s: float, streamed: bool, m: Measured
    ) -> None:
        replica = state.replica
        ttft_ok, tpot_ok = judge(
            self.targets.get(replica.lease_id),
            streamed=streamed,
            failed=m.failed,
            ttft_ms=m.ttft_ms,
            e2e_ms=m.e2e_ms,
            output_tokens=m.output_tokens,
        )
        rec = CallRecord(
            lease_id=replica.lease_id,
            replica_id=replica.id,
            region=region,
            at_s=at_s,
            streamed=streamed,
            failed=m.failed,
            ttft_ms=m.ttft_ms,
            e2e_ms=m.e2e_ms,
            input_tokens=m.input_tokens,
            output_tokens=m.output_tokens,
            emulated=m.emulated or replica.emulated,
            ttft_ok=ttft_ok,
            tpot_ok=tpot_ok,
            upstream_ttft_ms=m.upstream_ttft_ms,
        )
        self.aggregator.add(rec)
        if self.config.record_calls:
            self.calls.append(rec)

    def report(self, state: ReplicaState, health: str) -> None:
        """Write a replica's new health to the registry (in the background)."""
        state.reported = health
        assert self.loop is not None
        task = self.loop.create_task(self._record_health(state.replica.id, health))
        self._writes.add(task)  # keep a reference until it is done
        task.add_done_callback(self._writes.discard)

    def failed_attempt(self, state: ReplicaState, region: str, at_s: float, arrived: float) -> (
        None
    ):  # fmt: skip
        self.pool.failed(state, time.monotonic())
        m = Measured(failed=True, e2e_ms=(time.monotonic() - arrived) * 1e3)
        self.record(state, region, at_s, False, m)
        if state.reported != "down":
            self.report(state, "down")


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
        headers=headers,
    )


def create_gateway_app(
    database_url: str | None = None,
    *,
    config: GatewayConfig | None = None,
    db: Database | None = None,
) -> Starlette:
    """The gateway's ASGI app; ``app.state.gateway`` is its :class:`Gateway`."""
    own_db = db is None
    gateway = Gateway(db=db or Database.connect(database_url), config=config or GatewayConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()
            if own_db:
                gateway.db.dispose()

    async def models(request: Request) -> Response:
        caller = gateway.caller(request)
        if caller is None:
            return _error(401, "send your exchange API key as a Bearer token", "auth_error")
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "suanli"}
            for name in gateway.pool.models(caller.tenant)
        ]
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        states = gateway.pool.states.values()
        return JSONResponse(
            {
                "status": "ok",
                "replicas": len(states),
                "healthy": sum(1 for s in states if s.healthy),
            }
        )

    async def chat(request: Request) -> Response:
        return await _serve(gateway, request, "/v1/chat/completions")

    async def completions(request: Request) -> Response:
        return await _serve(gateway, request, "/v1/completions")

    app = Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app


async def _serve(gateway: Gateway, request: Request, path: str) -> Response:
    arrived = time.monotonic()
    at_s = time.time()
    caller = gateway.caller(request)
    if caller is None:
        return _error(401, "send your exchange API key as a Bearer token", "auth_error")
    if caller.role not in ("buyer", "operator"):
        return _error(403, f"a {caller.role} key may not call models", "permission_error")
    assert gateway.limiter is not None
    wait_s = gateway.limiter.take(caller.key_id, arrived)
    if wait_s > 0:
        return _error(
            429,
            "rate limit for this key reached",
            "rate_limit_error",
            {"retry-after": str(max(1, round(wait_s)))},
        )
    raw = await request.body()
    try:
        body = json.loads(raw)
        model = body["model"]
        if not isinstance(model, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(400, "the body must be JSON with a 'model' string", "invalid_request_error")
    region = request.headers.get(REGION_HEADER) or caller.region or ""
    candidates = gateway.pool.candidates(caller.tenant, model, region, arrived)
    if not candidates:
        if model in gateway.pool.models(caller.tenant):
            return _error(503, f"every replica of {model} is down", "service_unavailable")
        return _error(
            404,
            f"no active lease of yours serves {model!r}",
            "invalid_request_error",
        )
    streamed = bool(body.get("stream"))
    if streamed:
        options = dict(body.get("stream_options") or {})
        want_usage = bool(options.get("include_usage"))
        options["include_usage"] = True
        body["stream_options"] = options
        raw = json.dumps(body, separators=(",", ":")).encode()
    assert gateway.upstream is not None
    last = "no replica answered"
    for state in candidates[: gateway.config.max_attempts]:
        url = state.replica.url + path
        state.outstanding += 1
        try:
            if streamed:
                upstream = await open_stream(gateway.upstream, url, raw, arrived)
            else:
                response, content, m = await call_once(gateway.upstream, url, raw, arrived)
        except (UpstreamError, UpstreamFailed) as exc:
            state.outstanding -= 1
            last = f"{type(exc).__name__}: {exc}"
            gateway.failed_attempt(state, region, at_s, arrived)
            continue
        except BaseException:
            state.outstanding -= 1
            raise
        if not state.healthy:
            gateway.pool.succeeded(state)
        if state.reported != "up":
            gateway.report(state, "up")
        headers = {REPLICA_HEADER: str(state.replica.id)}
        if not streamed:
            state.outstanding -= 1
            if response.status_code < 400:
                gateway.record(state, region, at_s, False, m)
            return Response(
                content,
                status_code=response.status_code,
                media_type=response.headers.get("content-type", "application/json"),
                headers=headers,
            )
        if upstream.response.status_code >= 400:
            state.outstanding -= 1
            content = b"".join(upstream.first) + await upstream.response.read()
            await upstream.response.aclose()
            return Response(content, status_code=upstream.response.status_code, headers=headers)
        headers[UPSTREAM_TTFT_HEADER] = f"{upstream.measured.upstream_ttft_ms:.3f}"
        return StreamingResponse(
            _relay(gateway, state, upstream, region, at_s, arrived, want_usage),
            media_type="text/event-stream",
            headers=headers,
        )
    return _error(503, f"no replica could take the call ({last})", "service_unavailable")


async def _relay(
    gateway: Gateway,
    state: ReplicaState,
    upstream: Any,
    region: str,
    at_s: float,
    arrived: float,
    want_usage: bool,
) -> AsyncIterator[bytes]:
    try:
        async for event in forward_stream(upstream, arrived, want_usage=want_usage):
            yield event
    finally:
        state.outstanding -= 1
        if upstream.measured.failed:
            gateway.pool.failed(state, time.monotonic())
            if state.reported != "down":
                gateway.report(state, "down")
        gateway.record(state, region, at_s, True, upstream.measured)
