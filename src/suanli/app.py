"""The exchange's FastAPI application: the API's routers and the dashboard, in one list.

``create_app(database_url)`` opens the database (applying migrations), creates the state
every request shares (database, metrics, the key cache, the dashboard's aggregate cache;
routers reach it through the ``Annotated`` dependencies of :mod:`suanli.api.deps`), installs
the error handlers and the metrics/log middleware, and includes every router in
:data:`ROUTERS`: to add one, import it above and add it there. ``app_from_env`` is the
factory ``suanli serve`` hands to uvicorn, so every worker process builds its own app on
``$SUANLI_DATABASE_URL``.

This module sits above both :mod:`suanli.api` and :mod:`suanli.web` (the dashboard uses the
API's dependencies), so neither package imports the other's assembly.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from suanli import __version__
from suanli.api import errors
from suanli.api.deps import SharedState
from suanli.api.fastpath import FastOrders
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
from suanli.store.db import Database
from suanli.web import router as dashboard

__all__ = ["CLEAR_ENV", "ROUTERS", "app_from_env", "create_app"]

GIL_SWITCH_INTERVAL_S = 0.0005
CLEAR_ENV = "SUANLI_CLEAR_EVERY_S"  # set by `suanli serve --clear-every`
GATEWAY_ENV = "SUANLI_SERVE_GATEWAY"  # set by `suanli serve --gateway`

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
    database_url: str | None = None, *, clear_every_s: float = 0.0, gateway: bool = False
) -> FastAPI:
    """The exchange on ``database_url`` (else ``$SUANLI_DATABASE_URL``, else the default
    SQLite file), with migrations applied. With ``clear_every_s > 0`` the market clears by
    itself once per period (:mod:`suanli.api.scheduler`). With ``gateway`` the buyers'
    OpenAI-compatible gateway (:mod:`suanli.gateway.app`) is served under ``/gateway/v1``."""
    db = Database.connect(database_url)
    served = None
    if gateway:
        from suanli.gateway.app import create_gateway_app

        served = create_gateway_app(db=db)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        task = None
        if clear_every_s > 0:
            task = asyncio.create_task(clear_periodically(app_, clear_every_s))
        if served is not None:  # a mounted app's lifespan does not run by itself
            await served.state.gateway.start()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            if served is not None:
                await served.state.gateway.stop()
            db.dispose()

    app = FastAPI(
        title="Suanli exchange",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    SharedState(db=db, metrics=Metrics(), clear_every_s=clear_every_s).install(app)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    if served is not None:
        app.mount("/gateway", served)
    # The order fast path sits inside the metrics middleware (added last = outermost).
    app.add_middleware(FastOrders, fastapi_app=app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_from_env() -> FastAPI:
    """Uvicorn factory: the app on ``$SUANLI_DATABASE_URL`` (set by ``suanli serve``), with
    structured logs at ``$SUANLI_LOG_LEVEL``."""
    configure_logging(os.environ.get("SUANLI_LOG_LEVEL", "INFO"))
    # The SQLite writer thread holds the cross-process write lock while it runs a batch;
    # with Python's 5 ms GIL switch interval it could wait that long for the GIL behind the
    # event loop, and the other workers with it (see suanli.api.groupcommit). PostgreSQL
    # writes run in the thread pool instead, where a shorter interval only adds switches.
    app = create_app(
        clear_every_s=float(os.environ.get(CLEAR_ENV, "0") or 0),
        gateway=os.environ.get(GATEWAY_ENV) == "1",
    )
    if app.state.db.is_sqlite:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return app
