"""A lean ASGI path for the exchange's hottest write, ``POST /orders``.

FastAPI's per-request machinery (routing over every route, dependency solving, the
request/response wrappers) cost about as much CPU as the order itself. This middleware
answers a well-formed buyer order before FastAPI's router sees it, with the *same* pieces
the route uses: the cached key look-up (:func:`suanli.api.deps.caller_for_key`), the
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

from suanli.api.deps import caller_for_key
from suanli.api.errors import response_for
from suanli.api.idempotency import post
from suanli.api.schemas import OrderIn

PATH = "/orders"


def _secret(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The presented API key (as :func:`suanli.api.deps._presented_key` reads it) and
    whether the content type is JSON."""
    bearer = api_key = None
    json_body = False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                bearer = rest.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
        elif name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
    return bearer or api_key, json_body


class FastOrders:
    """Serve ``POST /orders`` for buyers directly; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._route: Any = None

    def _order_route(self) -> Any:
        if self._route is None:
            from suanli.api.routes.orders import router

            for route in router.routes:
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
        secret, json_body = _secret(scope["headers"])
        if secret is None or not json_body:
            return False
        state = self.fastapi_app.state
        try:
            caller = caller_for_key(state, secret)
        except Exception as exc:  # the key look-up reads the database: outages are 503 too
            handled = response_for(Request(scope), exc)
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
        from suanli.api.routes.orders import order_action

        scope.setdefault("state", {})["key_id"] = caller.key_id
        route = self._order_route()
        if route is not None:
            scope["route"] = route  # the metrics middleware labels by route template
        request = Request(scope)
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
