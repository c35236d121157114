"""The exchange's FastAPI application.

``create_app(database_url)`` opens the database (applying migrations), installs the error
handlers and the metrics/log middleware, and includes every router listed in
``_routers()``: to add one (market, dashboard), add one line there. ``app_for(settings)``
is the factory ``suanli serve`` hands to uvicorn with its :class:`~suanli.settings.Settings`,
so every worker process builds its own app from the same explicit configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from suanli.api import errors
from suanli.api.metrics import Metrics, MetricsMiddleware
from suanli.settings import Settings
from suanli.store.db import Database

GIL_SWITCH_INTERVAL_S = 0.0005

DESCRIPTION = """\
Suanli (算力) exchange: sellers list idle GPUs (offers), buyers ask in outcome terms
(requests), get priced previews (quotes) and commit them (orders -> leases and fills).

Authenticate with `Authorization: Bearer <key>` (`suanli admin create-key`). Every POST
accepts an `Idempotency-Key` header: a retry with the same key and body returns the stored
response. Lists take `limit` (max 500) and `offset`. Errors are JSON with `error`,
`message`, `hint`.
"""


def _routers() -> list[APIRouter]:
    from suanli.api.routes import health, offers, orders, requests, sites

    routers = [health.router, sites.router, offers.router, requests.router, orders.router]
    # Other engineers' routers: one line each, e.g.
    # from suanli.api.routes import market; routers.append(market.router)
    from suanli.api.routes import market

    routers.append(market.router)
    from suanli.api.routes import verifications

    routers.append(verifications.router)
    from suanli.web import router as dashboard

    routers.append(dashboard)
    return routers


def create_app(
    database_url: str | None = None,
    *,
    clear_every_s: float | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The exchange on ``database_url`` (else ``settings.database_url``, else the default
    SQLite file), with migrations applied. With ``clear_every_s > 0`` (else
    ``settings.clear_every_s``) the market clears by itself once per period
    (:mod:`suanli.api.scheduler`). ``settings`` defaults to the environment's."""
    settings = settings or Settings()
    if clear_every_s is None:
        clear_every_s = settings.clear_every_s
    db = Database.connect(database_url or settings.database_url, pool=settings.db_pool)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        task = None
        if clear_every_s > 0:
            import asyncio

            from suanli.api.scheduler import clear_periodically

            task = asyncio.create_task(clear_periodically(app_, clear_every_s))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            await app_.state.rate_limiter.aclose()
            db.dispose()

    from suanli import __version__

    app = FastAPI(
        title="Suanli exchange",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    from suanli.api.guards import RateLimiter

    app.state.rate_limiter = RateLimiter(settings)
    app.state.clear_every_s = clear_every_s  # the dashboard shows the next clearing
    app.state.metrics = Metrics(settings.metrics_dir)
    app.state.key_cache = {}
    errors.install(app)
    for router in _routers():
        app.include_router(router)
    # The order fast path sits inside the metrics middleware (added last = outermost).
    from suanli.api.fastpath import FastOrders

    app.add_middleware(FastOrders, fastapi_app=app)
    from suanli.api.guards import Guards  # body limit, content type, rate limits

    app.add_middleware(Guards, settings=settings, limiter=app.state.rate_limiter)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_for(settings: Settings, *, supervised: bool = False) -> FastAPI:
    """Uvicorn factory (bound to ``settings`` by ``suanli serve``, which pickles it into each
    worker): the app with structured logs at ``settings.log_level``. A ``supervised`` worker
    exits by itself if its supervisor dies, so no orphan keeps serving the port."""
    import sys

    from suanli.api.metrics import configure_logging

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
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="suanli-orphan-watch", daemon=True).start()
