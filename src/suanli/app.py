"""The exchange's FastAPI application: the API's routers and the dashboard, in one list.

``create_app(database_url)`` opens the database (applying migrations), creates the state
every request shares (database, metrics, the key cache, the dashboard's aggregate cache;
routers reach it through the ``Annotated`` dependencies of :mod:`suanli.api.deps`), installs
the error handlers, the guards (body limit, content type, rate limits) and the metrics/log
middleware, and includes every router in :data:`ROUTERS`: to add one, import it above and
add it there. ``app_for(settings)`` is the factory ``suanli serve`` hands to uvicorn with its
:class:`~suanli.settings.Settings`, so every worker process builds its own app from the same
explicit configuration.

This module sits above both :mod:`suanli.api` and :mod:`suanli.web` (the dashboard uses the
API's dependencies), so neither package imports the other's assembly.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from suanli import __version__
from suanli.api import errors
from suanli.api.deps import SharedState
from suanli.api.fastpath import FastOrders
from suanli.api.guards import Guards, RateLimiter
from suanli.api.metrics import Metrics, MetricsMiddleware, configure_logging
from suanli.api.routes import (
    health,
    keys,
    market,
    offers,
    orders,
    requests,
    serving,
    sites,
    verifications,
)
from suanli.api.scheduler import clear_periodically
from suanli.settings import Settings
from suanli.store.db import Database
from suanli.web import router as dashboard

__all__ = ["ROUTERS", "app_for", "create_app"]

GIL_SWITCH_INTERVAL_S = 0.0005

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    sites.router,
    offers.router,
    requests.router,
    orders.router,
    market.router,
    verifications.router,
    keys.router,
    serving.router,
    dashboard,
)

DESCRIPTION = """\
Suanli (算力) exchange: sellers list idle GPUs (offers), buyers ask in outcome terms
(requests), get priced previews (quotes) and commit them (orders -> leases and fills).

Authenticate with `Authorization: Bearer <key>` (`suanli admin create-key`). Every POST
accepts an `Idempotency-Key` header: a retry with the same key and body returns the stored
response. Lists take `limit` (max 500) and `offset`. Errors are JSON with `error`,
`message`, `hint`.
"""


def create_app(
    database_url: str | None = None,
    *,
    clear_every_s: float | None = None,
    gateway: bool | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The exchange on ``database_url`` (else ``settings.database_url``, else the default
    SQLite file), with migrations applied. With ``clear_every_s > 0`` (else
    ``settings.clear_every_s``) the market clears by itself once per period
    (:mod:`suanli.api.scheduler`). With ``gateway`` (else ``settings.serve_gateway``) the
    buyers' OpenAI-compatible gateway (:mod:`suanli.gateway.app`) is served under
    ``/gateway/v1``. ``settings`` defaults to the environment's."""
    settings = settings or Settings()
    every_s = settings.clear_every_s if clear_every_s is None else clear_every_s
    with_gateway = settings.serve_gateway if gateway is None else gateway
    db = Database.connect(database_url or settings.database_url, pool=settings.db_pool)
    limiter = RateLimiter(settings)
    served = None
    if with_gateway:
        from suanli.gateway.app import create_gateway_app

        served = create_gateway_app(db=db)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        task = None
        if every_s > 0:
            task = asyncio.create_task(clear_periodically(app_, every_s))
        if served is not None:  # a mounted app's lifespan does not run by itself
            await served.state.gateway.start()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            if served is not None:
                await served.state.gateway.stop()
            await limiter.aclose()
            db.dispose()

    app = FastAPI(
        title="Suanli exchange",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    SharedState(db=db, metrics=Metrics(settings.metrics_dir), clear_every_s=every_s).install(app)
    app.state.settings = settings
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    if served is not None:
        app.mount("/gateway", served)
    # The order fast path sits inside the guards and the metrics middleware (added last =
    # outermost), so bodies are bounded and every answer is counted.
    app.add_middleware(FastOrders, fastapi_app=app)
    app.add_middleware(Guards, settings=settings, limiter=limiter)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_for(settings: Settings, *, supervised: bool = False) -> FastAPI:
    """Uvicorn factory (bound to ``settings`` by ``suanli serve``, which pickles it into each
    worker): the app with structured logs at ``settings.log_level``. A ``supervised`` worker
    exits by itself if its supervisor dies, so no orphan keeps serving the port."""
    configure_logging(settings.log_level)
    if supervised:
        _stop_when_orphaned()
    # The SQLite writer thread holds the cross-process write lock while it runs a batch;
    # with Python's 5 ms GIL switch interval it could wait that long for the GIL behind the
    # event loop, and the other workers with it (see suanli.api.groupcommit). PostgreSQL
    # writes run in the thread pool instead, where a shorter interval only adds switches.
    app = create_app(settings=settings)
    if app.state.db.is_sqlite:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return app


def _stop_when_orphaned(interval_s: float = 0.5) -> None:
    """Exit this process once the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="suanli-orphan-watch", daemon=True).start()
