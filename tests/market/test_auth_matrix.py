"""Every market endpoint against every role, and no cross-tenant access."""

from __future__ import annotations

import time

from tests.conftest import Exchange as Market

NOBODY = "nobody"


def _order(side: str, offer_id: int | None = None) -> dict[str, object]:
    start = float(int(time.time() / 3600))
    return {"side": side, "gpu": "H20", "hub": "guian", "pricing": "on-demand",
            "start_h": start, "end_h": start + 2, "price_cny_per_gpu_hour": 5.0,
            "quantity_gpus": 2, **({"offer_id": offer_id} if offer_id else {})}  # fmt: skip


KEYED = {NOBODY: 401, "seller_a": 200, "buyer_a": 200, "operator": 200}
OPERATOR = {NOBODY: 401, "seller_a": 403, "buyer_a": 403, "operator": 200}
PUBLIC = {NOBODY: 200, "seller_a": 200, "buyer_a": 200, "operator": 200}

# (method, path, body, expected status per caller)
MATRIX: list[tuple[str, str, dict[str, object] | None, dict[str, int]]] = [
    ("POST", "/market/orders", _order("ask", offer_id=1),
     {NOBODY: 401, "seller_a": 201, "buyer_a": 403, "operator": 403}),
    ("POST", "/market/orders", _order("bid"),
     {NOBODY: 401, "seller_a": 403, "buyer_a": 201, "operator": 403}),
    ("GET", "/market/orders", None, KEYED),
    ("POST", "/market/clear", None, OPERATOR),
    ("POST", "/market/meter", None, OPERATOR),
    ("GET", "/market/fills", None, KEYED),
    ("GET", "/market/leases", None, KEYED),
    ("GET", "/market/balances", None, KEYED),
    ("GET", "/market/rounds", None, OPERATOR),
    ("GET", "/index", None, PUBLIC),
    ("GET", "/api/v1/index", None, PUBLIC),
]  # fmt: skip


def _headers(market: Market, who: str) -> dict[str, str]:
    return {} if who == NOBODY else market.as_(who)


def test_every_role_against_every_endpoint(market: Market) -> None:
    assert market.offer_id(gpu="H20", site="guian") == 1  # the offer the matrix's ask names
    wrong = []
    for method, path, body, expect in MATRIX:
        for who, status in expect.items():
            r = market.client.request(method, path, json=body, headers=_headers(market, who))
            if r.status_code != status:
                wrong.append((method, path, who, r.status_code, r.text[:120]))
    assert wrong == []


def test_cross_tenant_reads_and_writes_are_denied(market: Market) -> None:
    c = market.client
    offer = market.offer_id(gpu="H20", site="guian")
    ask = c.post("/market/orders", json=_order("ask", offer), headers=market.as_("seller_a")).json()
    c.post("/market/orders", json=_order("bid"), headers=market.as_("buyer_a"))
    # another tenant cannot withdraw the seller's ask, and does not see it
    assert c.delete(f"/market/orders/{ask['id']}", headers=market.as_("buyer_b")).status_code == 404
    assert c.get("/market/orders", headers=market.as_("buyer_b")).json()["total"] == 0
    c.post("/market/clear", headers=market.as_("operator"))
    lease = c.get("/market/leases", headers=market.as_("buyer_a")).json()["items"][0]
    for who in ("buyer_b", "seller_a"):
        for action in ("activate", "cancel"):
            r = c.post(f"/market/leases/{lease['id']}/{action}", headers=market.as_(who))
            assert r.status_code == 404, (who, action)
        assert c.get("/market/leases", headers=market.as_("buyer_b")).json()["total"] == 0
    assert c.get("/market/fills", headers=market.as_("buyer_b")).json()["total"] == 0
    c.post(f"/market/leases/{lease['id']}/activate", headers=market.as_("buyer_a"))
    c.post("/market/meter", headers=market.as_("operator"))
    assert c.get("/market/balances", headers=market.as_("buyer_b")).json()["items"] == []


def test_matrix_covers_every_market_route(market: Market) -> None:
    schema = market.client.get("/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if "market" in op.get("tags", [])
    }
    covered = {(m, p) for m, p, _, _ in MATRIX} | {
        ("DELETE", "/market/orders/{order_id}"),
        ("POST", "/market/leases/{lease_id}/activate"),
        ("POST", "/market/leases/{lease_id}/cancel"),
    }
    assert routes - covered == set()
