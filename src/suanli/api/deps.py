"""Dependencies shared by every router: the app's shared state, the caller, pagination.

:class:`SharedState` is what every request of one app shares (the database, the metrics,
the key cache, the dashboard's aggregate cache); :func:`suanli.app.create_app` creates it
once and routers reach each part through an ``Annotated`` dependency (``DatabaseDep``,
``MetricsDep``, ``AggregateCacheDep``, ``ClearEveryDep``). For a new router::

    from fastapi import APIRouter, Depends
    from suanli.api.deps import Caller, DatabaseDep, get_caller, require_roles

    router = APIRouter(prefix="/market", tags=["market"])

    @router.get("/things")
    def things(db: DatabaseDep, caller: Caller = Depends(require_roles("buyer", "operator"))):
        with db.read() as session:
            ...

then import it in :mod:`suanli.app` and add it to ``ROUTERS``. :func:`authenticate` reads
``Authorization: Bearer <key>`` or ``X-API-Key`` (the order fast path calls it too);
missing or unknown keys get 401, a wrong role 403. ``optional_caller`` gives None instead
of 401 for endpoints that are public but show more to a key holder.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request

from suanli.api.metrics import Metrics
from suanli.errors import Forbidden, Unauthorized
from suanli.store.db import Database
from suanli.store.keys import Caller, hash_key, lookup_key

__all__ = [
    "AggregateCache",
    "AggregateCacheDep",
    "Caller",
    "ClearEveryDep",
    "DatabaseDep",
    "MetricsDep",
    "PageParams",
    "Paging",
    "SharedState",
    "authenticate",
    "get_caller",
    "get_database",
    "optional_caller",
    "require_roles",
]

MAX_LIMIT = 500
_KEY_CACHE_TTL_S = 5.0

#: (expiry on the monotonic clock, value) per key: a few seconds of per-process memory.
AggregateCache = dict[tuple[Any, ...], tuple[float, Any]]


@dataclass(frozen=True, slots=True)
class SharedState:
    """What every request to one app shares, created once by ``create_app``."""

    db: Database
    metrics: Metrics
    clear_every_s: float = 0.0  # the market's clearing period (0: on demand only)
    key_cache: dict[str, tuple[Caller, float]] = field(default_factory=dict)
    aggregates: AggregateCache = field(default_factory=dict)

    def install(self, app: FastAPI) -> None:
        """Put each part on ``app.state`` (where the dependencies below read it)."""
        app.state.db = self.db
        app.state.metrics = self.metrics
        app.state.clear_every_s = self.clear_every_s
        app.state.key_cache = self.key_cache
        app.state.aggregates = self.aggregates


async def get_database(request: Request) -> Database:
    """The app's :class:`Database`."""
    db: Database = request.app.state.db
    return db


async def get_metrics(request: Request) -> Metrics:
    """The app's request metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_clear_every_s(request: Request) -> float:
    """Seconds between the market's own clearing rounds (0: only on demand)."""
    every_s: float = request.app.state.clear_every_s
    return every_s


async def get_aggregate_cache(request: Request) -> AggregateCache:
    """The app's cache of dashboard aggregates."""
    cache: AggregateCache = request.app.state.aggregates
    return cache


DatabaseDep = Annotated[Database, Depends(get_database)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AggregateCacheDep = Annotated[AggregateCache, Depends(get_aggregate_cache)]
ClearEveryDep = Annotated[float, Depends(get_clear_every_s)]


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def authenticate(request: Request) -> Caller | None:
    """The caller if a valid key was presented, None if none was; 401 for an unknown key.

    Known keys are cached per process for a few seconds (a revoked key stops working
    within ``_KEY_CACHE_TTL_S``), which keeps authentication off the hot path. The
    dependencies below are ``async`` so FastAPI runs them on the event loop instead of
    handing each to the thread pool; a cache miss costs one short indexed read.
    """
    secret = _presented_key(request)
    if secret is None:
        return None
    caller = caller_for_key(request.app.state, secret)
    if caller is None:
        raise Unauthorized(
            "unknown or revoked API key",
            hint="create one with: suanli admin create-key --role buyer --name NAME",
        )
    request.state.key_id = caller.key_id
    return caller


def caller_for_key(state: Any, secret: str) -> Caller | None:
    """The caller owning ``secret`` (None if unknown or revoked), through the per-process
    cache on ``app.state`` (entries live ``_KEY_CACHE_TTL_S``; only known keys are cached)."""
    cache: dict[str, tuple[Caller, float]] = state.key_cache
    digest = hash_key(secret)
    now = time.monotonic()
    hit = cache.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    db: Database = state.db
    with db.read() as session:
        found = lookup_key(session, secret)
    if found is None:
        return None
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (found, now + _KEY_CACHE_TTL_S)
    return found


async def optional_caller(request: Request) -> Caller | None:
    """Dependency: the caller, or None when no key was sent (401 for an unknown key)."""
    return authenticate(request)


def _require_caller(request: Request) -> Caller:
    caller = authenticate(request)
    if caller is None:
        raise Unauthorized(
            "this endpoint needs an API key",
            hint="send 'Authorization: Bearer <key>' (suanli admin create-key makes one)",
        )
    return caller


async def get_caller(request: Request) -> Caller:
    """Dependency: the caller; 401 without a valid key."""
    return _require_caller(request)


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that admits only keys with one of ``roles`` (403 otherwise)."""

    async def dependency(request: Request) -> Caller:
        caller = _require_caller(request)
        if caller.role not in roles:
            raise Forbidden(
                f"a {caller.role} key may not do this",
                hint="this needs a key with role " + " or ".join(roles),
            )
        return caller

    return dependency


@dataclass(frozen=True, slots=True)
class PageParams:
    """``limit`` (1-500, default 50) and ``offset`` of a list."""

    limit: int
    offset: int

    def wrap(self, items: list[object], total: int) -> dict[str, object]:
        nxt = self.offset + len(items)
        return {
            "items": items,
            "total": total,
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": nxt if nxt < total else None,
        }


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]
