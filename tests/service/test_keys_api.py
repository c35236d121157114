"""``/keys``: only the operator lists, creates and revokes keys; a new key works at once,
a revoked one is refused at once, and no listing ever shows a key itself."""

from __future__ import annotations

from tests.conftest import Exchange


def test_operator_creates_lists_and_revokes_keys(exchange: Exchange) -> None:
    c, op = exchange.client, exchange.as_("operator")
    made = c.post("/keys", json={"role": "buyer", "name": "delta-ai"}, headers=op)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["tenant"] == "delta-ai" and body["key"].startswith(f"sk_{body['key_id']}_")
    new = {"Authorization": f"Bearer {body['key']}"}
    assert c.get("/requests", headers=new).status_code == 200

    listed = c.get("/keys", headers=op).json()
    assert listed["total"] == 6
    row = next(k for k in listed["items"] if k["key_id"] == body["key_id"])
    assert row["role"] == "buyer" and row["revoked_at"] is None
    assert body["key"] not in made.text.replace(body["key"], "", 1)  # shown once, here
    assert all("key" not in k and "key_hash" not in k for k in listed["items"])

    revoked = c.post(f"/keys/{body['key_id']}/revoke", headers=op)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert c.get("/requests", headers=new).status_code == 401  # refused at once
    again = c.post(f"/keys/{body['key_id']}/revoke", headers=op)
    assert again.status_code == 409
    own = c.post(f"/keys/{exchange.key_ids['operator']}/revoke", headers=op)
    assert own.status_code == 409
    assert c.post("/keys/k000000/revoke", headers=op).status_code == 404


def test_only_the_operator_manages_keys(sqlite_exchange: Exchange) -> None:
    c = sqlite_exchange.client
    victim = sqlite_exchange.key_ids["buyer_a"]
    for who in ("seller_a", "buyer_a"):
        h = sqlite_exchange.as_(who)
        assert c.get("/keys", headers=h).status_code == 403
        assert c.post("/keys", json={"role": "operator", "name": "x"}, headers=h).status_code == 403
        assert c.post(f"/keys/{victim}/revoke", headers=h).status_code == 403
    assert c.get("/keys").status_code == 401
    bad = c.post(
        "/keys", json={"role": "admin", "name": "x"}, headers=sqlite_exchange.as_("operator")
    )
    assert bad.status_code == 422
    assert c.get("/offers", headers=sqlite_exchange.as_("buyer_a")).status_code == 200
