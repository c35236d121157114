"""A lean ASGI path for the exchange's hottest write, ``POST /orders``.

FastAPI's per-request machinery (routing over every route, dependency solving, the
request/response wrappers) cost about as much CPU as the order itself. This middleware
answers a well-formed buyer order before FastAPI's router sees it, with the *same* pieces
the route uses: the same authentication function as the dependencies
(:func:`suanli.api.deps.authenticate`, with its cached key look-up), the
``OrderIn`` schema, :func:`suanli.api.routes.orders.order_action` inside
:func:`suanli.api.idempotency.post` (so the conditional updates, the all-or-nothing
transaction and ``Idempotency-Key`` behave identically) and the app's error handlers.

Anything it is not sure about (no or unknown key, another role, a non-JSON content type, a
body the schema rejects) it hands, body and all, to the full application, so every error
response keeps the one shape the app's handlers give. The route stays in the OpenAPI
document and answers those requests.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.api.deps import authenticate
from suanli.api.errors import response_for
from suanli.api.idempotency import post
from suanli.api.routes.orders import order_action
from suanli.api.routes.orders import router as orders_router
from suanli.api.schemas import OrderIn
from suanli.errors import Unauthorized

PATH = "/orders"


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


class FastOrders:
    """Serve ``POST /orders`` for buyers directly; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._route: Any = None

    def _order_route(self) -> Any:
        if self._route is None:
            for route in orders_router.routes:
                if getattr(route, "path", None) == PATH and "POST" in getattr(route, "methods", ()):
                    self._route = route
        return self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if not await self._serve(scope, raw, send):
            await self.app(scope, _replay(raw, receive), send)

    async def _serve(self, scope: Scope, raw: bytes, send: Send) -> bool:
        """Answer the order; False when the full application should answer instead."""
        request = Request(scope)
        if not _is_json(request.headers.get("content-type")):
            return False
        try:
            caller = authenticate(request)
        except Unauthorized:
            return False  # the application gives the 401
        except Exception as exc:  # the key look-up reads the database: outages are 503 too
            handled = response_for(request, exc)
            if handled is None:
                raise
            await handled(scope, _no_body, send)
            return True
        if caller is None or caller.role != "buyer":
            return False
        try:
            body = OrderIn.model_validate_json(raw)
        except ValidationError:
            return False
        route = self._order_route()
        if route is not None:
            scope["route"] = route  # the metrics middleware labels by route template
        state = self.fastapi_app.state
        try:
            response = await post(
                request,
                state.db,
                caller,
                body.model_dump(mode="json"),
                order_action(body, caller),
                lean=True,
            )
        except Exception as exc:
            handled = response_for(request, exc)
            if handled is None:
                raise
            response = handled
        await response(scope, _no_body, send)
        return True


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _replay(raw: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
