"""The auth matrix: every role (and no key) against every endpoint, and every cross-tenant
read or write denied. Rows of other tenants are 404 (their ids leak nothing); a role that
may never do something gets 403; no key gets 401."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suanli.store import Caller
from suanli.store.requests import create_quote, get_request
from tests.conftest import Exchange

WHO = ("anon", "seller_a", "seller_b", "buyer_a", "buyer_b", "operator")


@dataclass(frozen=True)
class World:
    offer_a: int
    offer_b: int
    request_a: int
    request_b: int
    quote_a: int
    quote_b: int
    order_a: int
    order_b: int
    lease_a: int
    lease_b: int


def _build(ex: Exchange) -> World:
    c = ex.client
    a = ex.offer("seller_a", count=64)["id"]
    b = ex.offer("seller_b", count=64, site="guian")["id"]
    serve = {
        "kind": "serve",
        "model": "Qwen2.5-7B",
        "rate_per_s": 5,
        "prompt_tokens": 500,
        "output_tokens": 200,
        "ttft_ms": 800,
        "tpot_ms": 50,
        "regions": {"shanghai": 1},
    }
    ra = c.post("/requests", json=serve, headers=ex.as_("buyer_a")).json()["id"]
    rb = c.post("/requests", json=serve, headers=ex.as_("buyer_b")).json()["id"]
    db = ex.app.state.db
    quotes = []
    with db.write() as session:
        for rid, tenant in ((ra, "alpha-ai"), (rb, "beta-ai")):
            caller = Caller(key_id="k", role="buyer", tenant=tenant)
            req = get_request(session, caller, rid)
            q = create_quote(
                session,
                caller,
                req,
                feasible=True,
                cost_cny_per_hour=1.0,
                gpus=1,
                result={"assignments": []},
            )
            quotes.append(q.id)
    oa = c.post(
        "/orders", json={"items": [{"offer_id": a, "gpus": 8}]}, headers=ex.as_("buyer_a")
    ).json()
    ob = c.post(
        "/orders", json={"items": [{"offer_id": b, "gpus": 8}]}, headers=ex.as_("buyer_b")
    ).json()
    return World(
        a,
        b,
        ra,
        rb,
        quotes[0],
        quotes[1],
        oa["id"],
        ob["id"],
        oa["leases"][0]["id"],
        ob["leases"][0]["id"],
    )


Body = Callable[[Exchange, World], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {placeholders} filled from World
    expect: dict[str, int]  # who -> status
    body: Body | None = None


def _expect(anon: int, sa: int, sb: int, ba: int, bb: int, op: int) -> dict[str, int]:
    return dict(zip(WHO, (anon, sa, sb, ba, bb, op), strict=True))


def _offer_version(ex: Exchange, offer_id: int) -> int:
    got = ex.client.get(f"/offers/{offer_id}", headers=ex.as_("operator")).json()
    return int(got["version"])


SERVE = {"kind": "train", "gpus": 8, "gpu_types": ["H100"], "hours": 10}

ENDPOINTS = [
    Endpoint("GET", "/healthz", _expect(200, 200, 200, 200, 200, 200)),
    Endpoint("GET", "/metrics", _expect(200, 200, 200, 200, 200, 200)),
    Endpoint("GET", "/sites", _expect(200, 200, 200, 200, 200, 200)),
    Endpoint("GET", "/sites/zhongwei", _expect(200, 200, 200, 200, 200, 200)),
    Endpoint("GET", "/offers", _expect(401, 200, 200, 200, 200, 200)),
    Endpoint("GET", "/offers/{offer_a}", _expect(401, 200, 200, 200, 200, 200)),
    Endpoint(
        "POST",
        "/offers",
        _expect(401, 201, 201, 403, 403, 403),
        lambda ex, w: {"site": "zhongwei", "gpu": "H20", "count": 8, "price_cny_per_gpu_hour": 6},
    ),
    # seller_a's offer: seller_b may not touch it, buyers never, the operator may.
    Endpoint(
        "PATCH",
        "/offers/{offer_a}",
        _expect(401, 200, 403, 403, 403, 200),
        lambda ex, w: {"version": _offer_version(ex, w.offer_a), "price_cny_per_gpu_hour": 13},
    ),
    Endpoint(
        "POST",
        "/offers/{offer_a}/withdraw",
        _expect(401, 200, 403, 403, 403, 200),
        lambda ex, w: {"gpus": 1},
    ),
    Endpoint("POST", "/requests", _expect(401, 403, 403, 201, 201, 403), lambda ex, w: SERVE),
    Endpoint("GET", "/requests", _expect(401, 403, 403, 200, 200, 200)),
    Endpoint("GET", "/requests/{request_a}", _expect(401, 403, 403, 200, 404, 200)),
    Endpoint(
        "POST",
        "/quotes",
        _expect(401, 403, 403, 404, 404, 403),
        lambda ex, w: {"request_id": 10_000},
    ),
    Endpoint("GET", "/quotes", _expect(401, 403, 403, 200, 200, 200)),
    Endpoint("GET", "/quotes/{quote_a}", _expect(401, 403, 403, 200, 404, 200)),
    Endpoint(
        "POST",
        "/orders",
        _expect(401, 403, 403, 201, 201, 403),
        lambda ex, w: {"items": [{"offer_id": w.offer_b, "gpus": 1}]},
    ),
    Endpoint("GET", "/orders", _expect(401, 403, 403, 200, 200, 200)),
    Endpoint("GET", "/orders/{order_a}", _expect(401, 403, 403, 200, 404, 200)),
    Endpoint("GET", "/leases", _expect(401, 200, 200, 200, 200, 200)),
    # lease_a is buyer_a's lease on seller_a's offer.
    Endpoint("GET", "/leases/{lease_a}", _expect(401, 200, 404, 200, 404, 200)),
    # Release: buyer_b and seller_b are denied; buyer_a ends it, so the operator then
    # finds it already ended (409: a state conflict, not a denial).
    Endpoint(
        "POST",
        "/leases/{lease_a}/release",
        _expect(401, 403, 403, 200, 404, 409),
        lambda ex, w: None,
    ),
    Endpoint("GET", "/fills", _expect(401, 200, 200, 200, 200, 200)),
]


def test_every_role_against_every_endpoint(exchange: Exchange) -> None:
    world = _build(exchange)
    ids = vars(world)
    wrong = []
    for endpoint in ENDPOINTS:
        path = endpoint.path.format(**ids)

        # Denials first, then the allowed (mutating) calls, then expected state conflicts.
        def rank(who: str, expect: dict[str, int] = endpoint.expect) -> int:
            return 2 if expect[who] == 409 else int(expect[who] < 300)

        for who in sorted(WHO, key=rank):
            headers = {} if who == "anon" else exchange.as_(who)
            body = endpoint.body(exchange, world) if endpoint.body else None
            response = exchange.client.request(endpoint.method, path, json=body, headers=headers)
            if response.status_code != endpoint.expect[who]:
                wrong.append(
                    (endpoint.method, path, who, response.status_code, response.text[:200])
                )
    assert wrong == []


def test_the_matrix_covers_every_service_route(sqlite_exchange: Exchange) -> None:
    schema = sqlite_exchange.client.get("/openapi.json").json()
    mine = {"offers", "requests", "orders", "sites", "operations"}
    routes = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if set(op.get("tags", [])) & mine
    }
    covered = {
        (
            e.method,
            e.path.replace("{offer_a}", "{offer_id}")
            .replace("{request_a}", "{request_id}")
            .replace("{quote_a}", "{quote_id}")
            .replace("{order_a}", "{order_id}")
            .replace("{lease_a}", "{lease_id}")
            .replace("/sites/zhongwei", "/sites/{site_id}"),
        )
        for e in ENDPOINTS
    }
    assert routes - covered == set()


def test_lists_show_only_the_callers_rows(exchange: Exchange) -> None:
    _build(exchange)
    get = exchange.client.get
    for who, tenant in (("buyer_a", "alpha-ai"), ("buyer_b", "beta-ai")):
        for path in ("/requests", "/quotes", "/orders", "/leases", "/fills"):
            items = get(path, headers=exchange.as_(who)).json()["items"]
            assert items and {i["buyer"] for i in items} == {tenant}, (who, path)
    for who, tenant in (("seller_a", "acme-dc"), ("seller_b", "borealis-dc")):
        for path in ("/leases", "/fills"):
            items = get(path, headers=exchange.as_(who)).json()["items"]
            assert items and {i["seller"] for i in items} == {tenant}, (who, path)
        mine = get("/offers", params={"mine": True}, headers=exchange.as_(who)).json()["items"]
        assert {o["seller"] for o in mine} == {tenant}
    for path in ("/requests", "/quotes", "/orders", "/leases", "/fills"):
        items = get(path, headers=exchange.as_("operator")).json()["items"]
        assert {i["buyer"] for i in items} == {"alpha-ai", "beta-ai"}, path


def test_unknown_and_malformed_keys_get_401(sqlite_exchange: Exchange) -> None:
    get = sqlite_exchange.client.get
    for headers in (
        {"Authorization": "Bearer sk_nope"},
        {"Authorization": "Basic abc"},
        {"X-API-Key": "sk_nope"},
    ):
        assert get("/offers", headers=headers).status_code == 401
    ok = {"X-API-Key": sqlite_exchange.headers["buyer_a"]["Authorization"][7:]}
    assert get("/offers", headers=ok).status_code == 200


def test_revoked_key_stops_working(sqlite_exchange: Exchange) -> None:
    from suanli.store.models import ApiKey, utcnow

    app = sqlite_exchange.app
    with app.state.db.write() as session:
        session.get(ApiKey, sqlite_exchange.key_ids["buyer_b"]).revoked_at = utcnow()
    app.state.key_cache.clear()
    response = sqlite_exchange.client.get("/offers", headers=sqlite_exchange.as_("buyer_b"))
    assert response.status_code == 401
