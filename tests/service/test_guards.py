"""Bounded work per request: 413 before parsing, 415, 429 with Retry-After, strict bodies,
escaped LIKE patterns and no-op withdrawals (409)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanli.app import create_app
from suanli.settings import Settings
from suanli.store import create_key
from tests.conftest import OFFER, Exchange, sqlite_copy


def _app(tmp_path: Path, template: Path, **settings: object) -> Iterator[tuple[TestClient, str]]:
    app = create_app(sqlite_copy(template, tmp_path), settings=Settings(**settings))  # type: ignore[arg-type]
    with app.state.db.write() as session:
        secret = create_key(session, role="seller", name="s", tenant="acme").secret
    with TestClient(app) as client:
        yield client, secret


@pytest.fixture
def small_body(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[TestClient, str]]:
    yield from _app(tmp_path, sqlite_template, max_body_bytes=2048)


def test_body_over_the_limit_is_413_before_parsing(small_body: tuple[TestClient, str]) -> None:
    client, secret = small_body
    auth = {"Authorization": f"Bearer {secret}"}
    # Not JSON at all: a 413 (not 422) shows the body was refused before any parsing.
    response = client.post(
        "/offers", content=b"x" * 5000, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    # Without a Content-Length (streamed), the limit holds while reading.
    chunks = iter([b"[" + b"1," * 1500, b"1]"])
    response = client.post(
        "/offers", content=chunks, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    # The order fast path reads its own body: same limit.
    response = client.post(
        "/orders", content=b" " * 3000, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    # Under the limit, the request goes through.
    assert client.post("/offers", json=OFFER, headers=auth).status_code == 201


def test_default_body_limit_is_one_mib() -> None:
    assert Settings().max_body_bytes == 1024 * 1024


def test_wrong_content_type_is_415(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = ex.client.post(
            "/offers",
            content=b'{"site": "zhongwei"}',
            headers=ex.as_("seller_a", **{"Content-Type": content_type}),
        )
        assert response.status_code == 415, content_type
        assert response.json()["error"] == "unsupported_media_type"
    ok = ex.as_("seller_a", **{"Content-Type": "application/json; charset=utf-8"})
    assert ex.client.post("/offers", json=OFFER, headers=ok).status_code == 201


@pytest.fixture
def limited(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[TestClient, str]]:
    yield from _app(
        tmp_path,
        sqlite_template,
        rate_limit_per_key="5/minute",
        rate_limit_per_ip="8/minute",
        rate_limit_auth_failures="3/minute",
    )


def test_rate_limit_per_key_answers_429_with_retry_after(
    limited: tuple[TestClient, str],
) -> None:
    client, secret = limited
    auth = {"Authorization": f"Bearer {secret}"}
    codes = [client.get("/offers", headers=auth).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    refused = client.get("/offers", headers=auth)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"] == "rate_limited"


def test_rate_limit_per_ip_counts_every_request(limited: tuple[TestClient, str]) -> None:
    client, _ = limited
    codes = [client.get("/healthz").status_code for _ in range(10)]
    assert codes == [200] * 8 + [429] * 2


def test_unknown_keys_are_limited_per_address(limited: tuple[TestClient, str]) -> None:
    client, _ = limited
    bad = [client.get("/offers", headers={"X-API-Key": f"nope-{i}"}) for i in range(5)]
    assert [r.status_code for r in bad] == [401, 401, 401, 429, 429]
    assert int(bad[-1].headers["Retry-After"]) >= 1


def test_no_limit_when_empty(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange  # the test session's apps have no limits (tests/conftest.py)
    assert all(ex.client.get("/healthz").status_code == 200 for _ in range(50))


def test_bad_limit_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from suanli.errors import InvalidRequest
    from suanli.settings import load_settings

    monkeypatch.setenv("SUANLI_RATE_LIMIT_PER_KEY", "lots")
    with pytest.raises(InvalidRequest, match="SUANLI_RATE_LIMIT_PER_KEY"):
        load_settings()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": True}, "count"),
        ({"count": "8"}, "count"),
        ({"count": 8.5}, "count"),
        ({"gpu": "H100\u0000"}, "gpu"),
        ({"price_cny_per_gpu_hour": True}, "price_cny_per_gpu_hour"),
        ({"interruptible": 1}, "interruptible"),
        ({"typo_field": 1}, "typo_field"),
    ],
)
def test_offer_bodies_are_strict(
    sqlite_exchange: Exchange, change: dict[str, Any], field: str
) -> None:
    ex = sqlite_exchange
    response = ex.client.post("/offers", json={**OFFER, **change}, headers=ex.as_("seller_a"))
    assert response.status_code == 422, response.text
    assert response.json()["context"]["field"] == field


def test_market_order_bodies_are_strict(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    bid = {
        "side": "bid",
        "gpu": "H100",
        "hub": "zhongwei",
        "start_h": 10,
        "end_h": 20,
        "price_cny_per_gpu_hour": 10,
        "quantity_gpus": 4,
    }
    for change, field in (
        ({"gpu": "H100\u0000"}, "gpu"),
        ({"quantity_gpus": True}, "quantity_gpus"),
        ({"surprise": 1}, "surprise"),
    ):
        response = ex.client.post(
            "/market/orders", json={**bid, **change}, headers=ex.as_("buyer_a")
        )
        assert response.status_code == 422, (change, response.text)
        assert response.json()["context"]["field"] == field


def test_serve_headroom_bound_matches_the_core(sqlite_exchange: Exchange) -> None:
    from suanli.defaults import MAX_HEADROOM

    ex = sqlite_exchange
    spec = {
        "kind": "serve",
        "model": "Qwen2.5-7B",
        "rate_per_s": 1,
        "prompt_tokens": 100,
        "output_tokens": 100,
        "ttft_ms": 2000,
        "tpot_ms": 100,
        "regions": {"shanghai": 1.0},
        "headroom": MAX_HEADROOM,
    }
    response = ex.client.post("/requests", json=spec, headers=ex.as_("buyer_a"))
    assert response.status_code == 422
    assert response.json()["context"]["field"] == "serve.headroom"


def test_hub_filter_escapes_like_wildcards(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    ex.offer(count=8)
    ex.offer(site="guian", gpu="H20", count=8)
    everything = ex.client.get("/offers", headers=ex.as_("buyer_a")).json()["total"]
    assert everything == 2
    for pattern in ("%", "_", "%25"):
        found = ex.client.get("/offers", params={"q": f"hub={pattern}"}, headers=ex.as_("buyer_a"))
        assert found.status_code == 200
        assert found.json()["total"] == 0, pattern
    part = ex.client.get("/offers", params={"q": "hub=ingx"}, headers=ex.as_("buyer_a"))
    assert part.json()["total"] == 1  # a plain substring still matches (Ningxia)


def test_withdrawing_from_an_offer_with_nothing_free_is_409(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    offer = ex.offer(count=8)
    order = ex.client.post(
        "/orders",
        json={"items": [{"offer_id": offer["id"], "gpus": 8}]},
        headers=ex.as_("buyer_a"),
    )
    assert order.status_code == 201
    before = ex.client.get(f"/offers/{offer['id']}", headers=ex.as_("seller_a")).json()
    response = ex.client.post(
        f"/offers/{offer['id']}/withdraw", json={}, headers=ex.as_("seller_a")
    )
    assert response.status_code == 409
    after = ex.client.get(f"/offers/{offer['id']}", headers=ex.as_("seller_a")).json()
    assert after["version"] == before["version"]


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_nodes_sharing_redis_share_the_limits(tmp_path: Path, sqlite_template: Path) -> None:
    import uuid

    settings = Settings(
        rate_limit_per_key="5/minute",
        rate_limit_per_ip="",
        rate_limit_auth_failures="",
        rate_limit_storage="redis://127.0.0.1:6379",
        rate_limit_prefix=f"suanli-i17-test-{uuid.uuid4().hex[:8]}",
    )
    url = sqlite_copy(sqlite_template, tmp_path)
    first, second = create_app(url, settings=settings), create_app(url, settings=settings)
    with first.state.db.write() as session:
        secret = create_key(session, role="buyer", name="b", tenant="t").secret
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(first) as a, TestClient(second) as b:
        codes = [a.get("/offers", headers=auth).status_code for _ in range(3)]
        codes += [b.get("/offers", headers=auth).status_code for _ in range(3)]
    assert codes == [200] * 5 + [429]


def test_closing_the_limiter_stops_the_memory_storage_expiry_task() -> None:
    import asyncio

    from suanli.api.guards import RateLimiter

    async def hit_and_close() -> tuple[bool, bool]:
        limiter = RateLimiter(
            Settings(
                rate_limit_storage="memory://",
                rate_limit_per_ip="10/minute",
                rate_limit_per_key="10/minute",
            )
        )
        assert await limiter.retry_after("127.0.0.1", "k") is None
        timer = getattr(limiter.storage, "timer", None)
        assert isinstance(timer, asyncio.Task)
        running_before = not timer.done()
        await limiter.aclose()
        return running_before, timer.done()

    running_before, done_after = asyncio.run(hit_and_close())
    assert running_before and done_after
