"""One typed client for the exchange's HTTP API: :class:`ExchangeClient`.

The CLI (``suanli offers|requests|quote|leases|index``), the probe (``suanli probe --upload``)
and the demo all talk to the exchange through it, so there is one place that

* sends the key (``Authorization: Bearer``) and a fresh ``Idempotency-Key`` with every POST;
* retries a request once, with the same idempotency key, when the connection drops (the
  exchange answers a repeated key with the stored response, so a retry never creates a
  second object);
* turns an error body (``{"error": code, "message", "hint", "context"}``) back into the same
  :class:`~suanli.errors.SuanliError` subclass the server raised
  (:func:`suanli.errors.error_from_body`).

The transport is injectable (any ``httpx.BaseTransport``): :class:`InProcessTransport` runs
an ASGI app (``suanli.api.create_app(...)``) in this process, with its lifespan, for tests
and the demo; ``httpx.MockTransport`` serves canned answers.

Methods return the API's JSON documents (``dict``) unchanged; a page is
``{"items", "total", "limit", "offset", "next_offset"}``.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from suanli.errors import InvalidRequest, SuanliError, Unauthorized, Unavailable, error_from_body

__all__ = ["DEFAULT_URL", "ExchangeClient", "InProcessTransport", "Json"]

DEFAULT_URL = "http://127.0.0.1:8000"
UNREACHABLE_HINT = "start it with 'suanli serve' or point --url / SUANLI_URL at it"

Json = dict[str, Any]
Side = Literal["bid", "ask"]
Pricing = Literal["on-demand", "interruptible", "reserved"]

# Methods retried once on a dropped connection: reads, and POSTs (which carry an
# Idempotency-Key, so the exchange answers a repeat with the stored response).
_RETRIED = frozenset({"GET", "HEAD", "POST", "DELETE"})


class ExchangeClient:
    """The exchange at ``url``, seen by the holder of ``key`` (None: public endpoints only).

    ``transport`` replaces the network (tests, the demo); it stays the caller's to close.
    ``missing_key_hint`` is the hint given when the exchange answers 401 to a client that
    has no key (the CLI names its ``--key`` option there). Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        retries: int = 1,
        missing_key_hint: str | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest(
                f"bad exchange URL {url!r}", field="url", hint="use http(s)://host:port"
            )
        self.url = url.rstrip("/")
        self.key = key or None
        self.retries = retries
        self.missing_key_hint = missing_key_hint
        self._transport = transport
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout_s, transport=transport
        )

    def with_key(self, key: str | None) -> ExchangeClient:
        """A client for another key on the same exchange and transport."""
        return ExchangeClient(
            self.url,
            key,
            transport=self._transport,
            timeout_s=self._http.timeout.read or 30.0,
            retries=self.retries,
            missing_key_hint=self.missing_key_hint,
        )

    # -- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (an injected transport is left to its owner)."""
        if self._transport is None:
            self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One call; the JSON answer, or the server's error raised as a SuanliError."""
        method = method.upper()
        headers: dict[str, str] = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempts = 1 + (self.retries if method in _RETRIED else 0)
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method, path, json=json, params=query, headers=headers
                )
                break
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    continue
                raise Unavailable(
                    f"cannot reach the exchange at {self.url}: {exc}", hint=UNREACHABLE_HINT
                ) from None
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        if response.status_code < 400:
            return body
        if not isinstance(body, dict):
            body = {"message": str(body)[:200]}
        error = error_from_body(response.status_code, body)
        if isinstance(error, Unauthorized) and self.key is None and self.missing_key_hint:
            error.hint = self.missing_key_hint
        raise error

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _post(self, path: str, body: Any, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, json=body, idempotency_key=idempotency_key)

    # -- operations ----------------------------------------------------------------------

    def health(self) -> Json:
        """``GET /healthz``."""
        answer: Json = self._get("/healthz")
        return answer

    # -- offers (sellers list idle GPUs) --------------------------------------------------

    def list_offers(
        self,
        *,
        q: str | None = None,
        mine: bool = False,
        sort: str = "id",
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """A page of open offers; ``q`` is the filter language (``gpu=H100 count>=8``)."""
        page: Json = self._get(
            "/offers", q=q or None, mine="true" if mine else None, sort=sort, limit=limit,
            offset=offset,
        )  # fmt: skip
        return page

    def get_offer(self, offer_id: int) -> Json:
        offer: Json = self._get(f"/offers/{offer_id}")
        return offer

    def add_offer(
        self,
        *,
        site: str,
        gpu: str,
        count: int,
        price_cny_per_gpu_hour: float,
        gpus_per_node: int | None = None,
        fabric: str | None = None,
        interruptible: bool | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> Json:
        """List ``count`` GPUs at ``site`` (seller key); unset options take the API default."""
        body = {
            "site": site, "gpu": gpu, "count": count,
            "price_cny_per_gpu_hour": price_cny_per_gpu_hour, "gpus_per_node": gpus_per_node,
            "fabric": fabric, "interruptible": interruptible, **extra,
        }  # fmt: skip
        offer: Json = self._post("/offers", _present(body), idempotency_key)
        return offer

    def update_offer(self, offer_id: int, changes: Mapping[str, Any]) -> Json:
        """``PATCH /offers/{id}``: ``changes`` must carry the offer's current ``version``."""
        offer: Json = self.request("PATCH", f"/offers/{offer_id}", json=dict(changes))
        return offer

    def withdraw_offer(self, offer_id: int, gpus: int | None = None) -> Json:
        """Take free GPUs (all of them when ``gpus`` is None) of an offer off the market."""
        offer: Json = self._post(
            f"/offers/{offer_id}/withdraw", {} if gpus is None else {"gpus": gpus}
        )
        return offer

    def offer_verification(self, offer_id: int) -> Json:
        status: Json = self._get(f"/offers/{offer_id}/verification")
        return status

    # -- requests and quotes (buyers ask in outcome terms) -------------------------------

    def submit_request(self, body: Mapping[str, Any], idempotency_key: str | None = None) -> Json:
        """A serve, batch or train request (buyer key), as the API's JSON shape."""
        created: Json = self._post("/requests", dict(body), idempotency_key)
        return created

    def list_requests(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/requests", limit=limit, offset=offset)
        return page

    def get_request(self, request_id: int) -> Json:
        found: Json = self._get(f"/requests/{request_id}")
        return found

    def request_view(self, request_id: int) -> Json:
        """The dashboard's view of one request: status, leases (or the quoted placement),
        per-region RTT and TTFT against the target with the verdict, cost and the
        placement's explanation (``GET /web/api/requests/{id}``)."""
        found: Json = self._get(f"/web/api/requests/{request_id}")
        return found

    def quote(self, request_id: int) -> Json:
        """Price a request against the open offers (reserves nothing)."""
        quoted: Json = self._post("/quotes", {"request_id": request_id})
        return quoted

    def list_quotes(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/quotes", limit=limit, offset=offset)
        return page

    def get_quote(self, quote_id: int) -> Json:
        found: Json = self._get(f"/quotes/{quote_id}")
        return found

    # -- orders, leases, fills (direct trade) --------------------------------------------

    def place_order(
        self,
        *,
        quote_id: int | None = None,
        items: list[Mapping[str, Any]] | None = None,
        request_id: int | None = None,
        hours: float | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """Commit a quote (``quote_id``) or explicit ``items`` (``[{"offer_id", "gpus"}]``):
        reserves the GPUs and opens leases."""
        body = {
            "quote_id": quote_id,
            "items": None if items is None else [dict(i) for i in items],
            "request_id": request_id,
            "hours": hours,
        }
        order: Json = self._post("/orders", _present(body), idempotency_key)
        return order

    def list_orders(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/orders", limit=limit, offset=offset)
        return page

    def get_order(self, order_id: int) -> Json:
        found: Json = self._get(f"/orders/{order_id}")
        return found

    def list_leases(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/leases", limit=limit, offset=offset)
        return page

    def get_lease(self, lease_id: int) -> Json:
        found: Json = self._get(f"/leases/{lease_id}")
        return found

    def release_lease(self, lease_id: int) -> Json:
        """End an active lease early; its GPUs go back on the offer."""
        lease: Json = self._post(f"/leases/{lease_id}/release", {})
        return lease

    def list_fills(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/fills", limit=limit, offset=offset)
        return page

    # -- serving a lease -----------------------------------------------------------------

    def add_replica(self, lease_id: int, *, model: str, url: str, emulated: bool = False) -> (
        Json
    ):  # fmt: skip
        """Register the OpenAI-compatible endpoint of a replica serving ``lease_id``."""
        body = {"model": model, "url": url, "emulated": emulated}
        replica: Json = self._post(f"/leases/{lease_id}/replicas", body)
        return replica

    def list_replicas(self, lease_id: int) -> list[Json]:
        found: list[Json] = self._get(f"/leases/{lease_id}/replicas")
        return found

    def lease_outcomes(self, lease_id: int) -> Json:
        """What the gateways measured for a lease, per hour, with attainment and credits."""
        found: Json = self._get(f"/leases/{lease_id}/outcomes")
        return found

    # -- the call-auction market ---------------------------------------------------------

    def market_order(
        self,
        side: Side,
        *,
        start_h: float,
        end_h: float,
        price_cny_per_gpu_hour: float,
        quantity_gpus: int,
        pricing: Pricing = "on-demand",
        all_or_nothing: bool = False,
        priority: int = 0,
        gpu: str | None = None,
        hub: str | None = None,
        offer_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> Json:
        """A bid (buyer key) on one instrument and window, or an ask (seller key) that sells
        GPUs of the seller's offer ``offer_id`` (``gpu`` and ``hub`` default to the offer's)."""
        body: dict[str, Any] = {
            "side": side, "pricing": pricing, "start_h": start_h,
            "end_h": end_h, "price_cny_per_gpu_hour": price_cny_per_gpu_hour,
            "quantity_gpus": quantity_gpus, "all_or_nothing": all_or_nothing,
            "priority": priority,
        }  # fmt: skip
        for name, value in (("gpu", gpu), ("hub", hub), ("offer_id", offer_id)):
            if value is not None:
                body[name] = value
        order: Json = self._post("/market/orders", body, idempotency_key)
        return order

    def bid(self, **order: Any) -> Json:
        """:meth:`market_order` with ``side="bid"``."""
        return self.market_order("bid", **order)

    def ask(self, **order: Any) -> Json:
        """:meth:`market_order` with ``side="ask"``."""
        return self.market_order("ask", **order)

    def book(self, *, limit: int = 50, offset: int = 0) -> Json:
        """Resting market orders (own; every order for the operator)."""
        page: Json = self._get("/market/orders", limit=limit, offset=offset)
        return page

    def cancel_market_order(self, order_id: int | str) -> Json:
        answer: Json = self.request("DELETE", f"/market/orders/{order_id}")
        return answer

    def clear_market(self, body: Mapping[str, Any] | None = None) -> Json:
        """Run one clearing round (operator key)."""
        answer: Json = self._post("/market/clear", dict(body or {}))
        return answer

    def market_fills(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/market/fills", limit=limit, offset=offset)
        return page

    def market_leases(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/market/leases", limit=limit, offset=offset)
        return page

    def balances(self, *, limit: int = 50, offset: int = 0) -> Json:
        """Ledger balances (own accounts; all for the operator, with ``total_fen``)."""
        answer: Json = self._get("/market/balances", limit=limit, offset=offset)
        return answer

    # -- API keys (operator) -------------------------------------------------------------

    def list_keys(self, *, limit: int = 50, offset: int = 0) -> Json:
        page: Json = self._get("/keys", limit=limit, offset=offset)
        return page

    def create_key(self, *, role: str, name: str, tenant: str | None = None) -> Json:
        """A new key (``key`` in the answer, shown once)."""
        made: Json = self._post("/keys", _present({"role": role, "name": name, "tenant": tenant}))
        return made

    def revoke_key(self, key_id: str) -> Json:
        revoked: Json = self._post(f"/keys/{key_id}/revoke", {})
        return revoked

    # -- the price index (public) --------------------------------------------------------

    def index(
        self,
        gpu: str,
        *,
        hub: str | None = None,
        period: str = "hour",
        pricing: str = "on-demand",
    ) -> Json:
        """The GPU rental price index document for ``gpu``."""
        doc: Json = self._get("/api/v1/index", gpu=gpu, hub=hub, period=period, pricing=pricing)
        return doc

    # -- hardware verification -----------------------------------------------------------

    def verification_challenge(self) -> Json:
        """A fresh nonce (seller key) for the next probe record to answer."""
        challenge: Json = self._post("/verifications/challenges", {})
        return challenge

    def upload_verification(self, record: Mapping[str, Any]) -> Json:
        """Send a ``suanli probe`` record (seller key); the answer names the verified GPUs."""
        answer: Json = self._post("/verifications", dict(record))
        return answer


def _present(body: Mapping[str, Any]) -> Json:
    return {k: v for k, v in body.items() if v is not None}


class InProcessTransport(httpx.BaseTransport):
    """Serve requests from an ASGI app in this process, on an event loop of its own thread.

    The app's lifespan runs once (startup at construction, shutdown at :meth:`close`), as
    under ``uvicorn``; each request goes through ``httpx.ASGITransport`` on that loop. App
    exceptions propagate to the caller (a 500 in a test is a bug to see).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="suanli-in-process", daemon=True
        )
        self._thread.start()
        self._asgi = httpx.ASGITransport(app=app)
        self._lifespan_in: asyncio.Queue[dict[str, str]] | None = None
        self._lifespan_task: asyncio.Future[None] | None = None
        self._closed = False
        self._run(self._startup())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _startup(self) -> None:
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan_in = inbox
        self._lifespan_task = asyncio.ensure_future(
            self._app(scope, inbox.get, self._lifespan_out.put)
        )
        await inbox.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")

    async def _expect(self, wanted: str) -> None:
        message = await self._lifespan_out.get()
        if message["type"] != wanted:
            raise SuanliError(f"the in-process exchange failed: {message.get('message', '')}")

    async def _shutdown(self) -> None:
        if self._lifespan_in is None or self._lifespan_task is None:
            return
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown.complete")
        await self._lifespan_task

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return response.status_code, response.headers, content

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the in-process exchange is closed", request=request)
        request.read()
        status, headers, content = self._run(self._send(request))
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(content), request=request
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
