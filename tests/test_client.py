"""The one HTTP client: errors come back as the class the server raised, dropped
connections are retried once with the same Idempotency-Key, and it drives a real app."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from suanli.app import create_app
from suanli.client import ExchangeClient, InProcessTransport
from suanli.errors import (
    ERRORS_BY_CODE,
    Conflict,
    DataFileError,
    InvalidRequest,
    NotFound,
    SuanliError,
    Unauthorized,
    Unavailable,
)
from suanli.store import create_key

URL = "http://exchange.test"


def answering(status: int, body: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


@pytest.mark.parametrize("cls", list(ERRORS_BY_CODE.values()))
def test_every_error_the_api_renders_comes_back_as_its_class(cls: type[SuanliError]) -> None:
    if cls is DataFileError:
        raised: SuanliError = DataFileError("bad gpu", path="x.json", field="gpu", hint="fix")
    elif cls is NotFound:
        raised = NotFound("no offer 7", suggestions=["H100-SXM"])
    elif issubclass(cls, InvalidRequest):
        raised = cls("count too big", field="count", hint="at most 10")
    else:
        raised = cls("refused", hint="do something else")
    client = ExchangeClient(URL, "k", transport=answering(raised.status_code, raised.to_dict()))
    with pytest.raises(cls) as caught:
        client.get_offer(7)
    got = caught.value
    assert type(got) is cls
    assert (got.message, got.hint, got.context) == (raised.message, raised.hint, raised.context)
    assert got.status_code == raised.status_code
    if isinstance(raised, InvalidRequest):
        assert isinstance(got, InvalidRequest) and got.field == raised.field
    if isinstance(raised, NotFound):
        assert isinstance(got, NotFound) and got.suggestions == raised.suggestions


def test_answers_without_our_code_map_by_status() -> None:
    cases = [(409, Conflict), (503, Unavailable), (502, Unavailable), (418, SuanliError)]
    for status, cls in cases:
        client = ExchangeClient(URL, "k", transport=answering(status, {"detail": "nope"}))
        with pytest.raises(cls, match="nope") as caught:
            client.list_offers()
        assert type(caught.value) is cls
    html = httpx.MockTransport(lambda r: httpx.Response(404, text="<h1>gone</h1>"))
    with pytest.raises(NotFound, match="gone"):
        ExchangeClient(URL, transport=html).health()


def test_a_dropped_post_is_retried_once_with_the_same_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(201, json={"id": 1})

    client = ExchangeClient(URL, "sk_b", transport=httpx.MockTransport(flaky))
    assert client.place_order(items=[{"offer_id": 3, "gpus": 2}]) == {"id": 1}
    assert len(seen) == 2
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(keys) == 1 and all(len(k) == 32 for k in keys)
    assert json.loads(seen[1].content) == {"items": [{"offer_id": 3, "gpus": 2}]}
    assert seen[1].headers["Authorization"] == "Bearer sk_b"


def test_two_dropped_connections_are_unavailable_and_patch_is_not_retried() -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    client = ExchangeClient(URL, "k", transport=httpx.MockTransport(down))
    with pytest.raises(Unavailable, match=r"cannot reach the exchange at http://exchange\.test"):
        client.quote(5)
    assert calls == ["POST", "POST"]
    calls.clear()
    with pytest.raises(Unavailable):
        client.update_offer(1, {"version": 1, "price_cny_per_gpu_hour": 9.0})
    assert calls == ["PATCH"]


def test_a_401_without_a_key_gets_the_callers_hint() -> None:
    body = Unauthorized("this endpoint needs an API key", hint="server hint").to_dict()
    keyless = ExchangeClient(URL, transport=answering(401, body), missing_key_hint="pass --key")
    with pytest.raises(Unauthorized) as caught:
        keyless.list_leases()
    assert caught.value.hint == "pass --key"
    keyed = ExchangeClient(URL, "k", transport=answering(401, body), missing_key_hint="x")
    with pytest.raises(Unauthorized) as caught:
        keyed.list_leases()
    assert caught.value.hint == "server hint"


def test_bad_url_is_refused_before_sending() -> None:
    with pytest.raises(InvalidRequest, match="bad exchange URL"):
        ExchangeClient("ftp://x")


def test_the_client_trades_on_an_in_process_exchange(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}")
    with app.state.db.write() as session:
        seller_key = create_key(session, role="seller", name="dc").secret
        buyer_key = create_key(session, role="buyer", name="team").secret
    transport = InProcessTransport(app)
    try:
        seller = ExchangeClient(URL, seller_key, transport=transport)
        offer = seller.add_offer(site="zhongwei", gpu="H100", count=16, price_cny_per_gpu_hour=9)
        buyer = seller.with_key(buyer_key)
        order = buyer.place_order(
            items=[{"offer_id": offer["id"], "gpus": 4}], idempotency_key="once"
        )
        again = buyer.place_order(
            items=[{"offer_id": offer["id"], "gpus": 4}], idempotency_key="once"
        )
        assert again["id"] == order["id"]
        assert seller.get_offer(offer["id"])["available"] == 12
        (lease,) = buyer.list_leases()["items"]
        assert buyer.release_lease(lease["id"])["status"] != lease["status"]
        assert seller.get_offer(offer["id"])["available"] == 16
        with pytest.raises(NotFound):
            buyer.get_order(999)
    finally:
        transport.close()
    with pytest.raises(Unavailable, match="cannot reach"):
        ExchangeClient(URL, transport=transport).health()
