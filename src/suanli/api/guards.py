"""Bounded work per request, before any parsing: body size, content type, rate limits.

One pure-ASGI middleware, outside the order fast path and FastAPI's router, so every route
gets the same answers:

* **413** when ``Content-Length`` exceeds ``Settings.max_body_bytes`` (no byte is read), or
  when a body without a length grows past it while being read;
* **415** when a request with a body declares a content type other than JSON;
* **429** with ``Retry-After`` when the client address, the presented API key, or the
  client address's requests with unknown keys (401s) exceed their limits. Counters live in
  the ``limits`` library's storage: in memory for one node, in Redis when
  ``Settings.rate_limit_storage`` is a ``redis://`` URL, so several nodes share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from typing import Any

from fastapi import HTTPException
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.settings import Settings

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """Raised by the guarded ``receive`` when a streamed body passes the limit (an
    ``HTTPException``, so FastAPI's body reader lets it through as the 413 it is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _error(status: int, code: str, message: str, hint: str, headers: dict[str, str]) -> Any:
    body = json.dumps({"error": code, "message": message, "hint": hint}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def respond(send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return respond


def _limits(text: str) -> list[RateLimitItem]:
    return list(parse_many(text)) if text else []


class RateLimiter:
    """The three rate limits of :class:`Settings` over one ``limits`` storage (close it with
    :meth:`aclose` when the app stops: a Redis storage holds connections)."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage
        if not uri.startswith("async+"):
            uri = "async+" + uri
        options: dict[str, Any] = {}
        if "redis" in uri:
            options["key_prefix"] = settings.rate_limit_prefix
            options["implementation"] = "redispy"  # the redis package, not coredis
        storage = storage_from_string(uri, **options)
        assert isinstance(storage, Storage)
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.per_ip = _limits(settings.rate_limit_per_ip)
        self.per_key = _limits(settings.rate_limit_per_key)
        self.auth_failures = _limits(settings.rate_limit_auth_failures)

    @property
    def active(self) -> bool:
        return bool(self.per_ip or self.per_key or self.auth_failures)

    async def retry_after(self, ip: str, key: str | None) -> int | None:
        """Seconds to wait if this request is over a limit (counting it otherwise)."""
        for item in self.auth_failures:  # only tested here; counted after a 401
            if not await self.strategy.test(item, "auth", ip):
                return await self._wait(item, "auth", ip)
        for items, ident in ((self.per_ip, ("ip", ip)), (self.per_key, ("key", key))):
            if ident[1] is None:
                continue
            for item in items:
                if not await self.strategy.hit(item, *ident):  # type: ignore[arg-type]
                    return await self._wait(item, *ident)  # type: ignore[arg-type]
        return None

    async def aclose(self) -> None:
        """Close the storage's connections (Redis), or stop the in-memory storage's expiry task
        (left pending, the event loop reports it destroyed when it closes)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
        timer = getattr(self.storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def failed_auth(self, ip: str) -> None:
        for item in self.auth_failures:
            await self.strategy.hit(item, "auth", ip)

    async def _wait(self, item: RateLimitItem, *ident: str) -> int:
        stats = await self.strategy.get_window_stats(item, *ident)
        return max(1, math.ceil(stats.reset_time - time.time()))


def _presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """A digest of the API key the request presents (None without one)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.partition(b" ")
            if scheme.lower() == b"bearer" and rest.strip():
                return hashlib.sha256(rest.strip()).hexdigest()[:32]
        elif name == b"x-api-key" and value.strip():
            return hashlib.sha256(value.strip()).hexdigest()[:32]
    return None


class Guards:
    """Body limit, content type and rate limits in front of the application."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.limiter = limiter if limiter.active else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        refusal = self._refuse_body(scope["method"], headers)
        if refusal is not None:
            await refusal(send)
            return
        ip = (scope.get("client") or ("unknown", 0))[0]
        if self.limiter is not None:
            wait = await self.limiter.retry_after(ip, _presented_key(headers))
            if wait is not None:
                await _error(
                    429,
                    "rate_limited",
                    "too many requests",
                    f"retry after {wait} s",
                    {"Retry-After": str(wait)},
                )(send)
                return
        started = False
        status = 0

        async def guarded_send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, self._counting(receive), guarded_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large()(send)
        if status == 401 and self.limiter is not None:
            await self.limiter.failed_auth(ip)

    def _refuse_body(self, method: str, headers: list[tuple[bytes, bytes]]) -> Any:
        length = content_type = None
        for name, value in headers:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_body:
                return self._too_large()
        if method in _WITH_BODY and content_type is not None:
            media = content_type.split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                return _error(
                    415,
                    "unsupported_media_type",
                    f"this API reads JSON, not {media.decode('latin-1')[:60]!r}",
                    "send the body as JSON with 'Content-Type: application/json'",
                    {},
                )
        return None

    def _too_large(self) -> Any:
        return _error(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body} bytes",
            "send less data per request (SUANLI_MAX_BODY_BYTES sets the limit)",
            {"Connection": "close"},
        )

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted
