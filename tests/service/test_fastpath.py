"""The order fast path answers exactly as the ``POST /orders`` route would: the same
authentication (one function), the same status and body for every way a key is presented."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from suanli.api.fastpath import FastOrders
from suanli.app import create_app
from suanli.store import create_key
from tests.conftest import in_process


def _exchange(path: Path, *, fast: bool) -> tuple[Any, dict[str, str]]:
    app = create_app(f"sqlite:///{path}")
    if not fast:  # the middleware stack is built on the first request
        app.user_middleware = [
            m for m in app.user_middleware if cast(object, m.cls) is not FastOrders
        ]
    with app.state.db.write() as session:
        keys = {
            who: create_key(session, role=role, name=who).secret
            for who, role in (("buyer", "buyer"), ("seller", "seller"))
        }
    return app, keys


def _variants(keys: dict[str, str]) -> list[dict[str, str]]:
    buyer, seller = keys["buyer"], keys["seller"]
    return [
        {"Authorization": f"Bearer {buyer}"},
        {"Authorization": f"bearer   {buyer}  "},
        {"X-API-Key": buyer},
        {"Authorization": f"Basic {buyer}", "X-API-Key": buyer},
        {"Authorization": f"Bearer {seller}"},
        {"Authorization": "Bearer sk_unknown"},
        {"X-API-Key": "  "},
        {},
    ]


def _answers(path: Path, *, fast: bool) -> list[tuple[int, Any]]:
    app, keys = _exchange(path, fast=fast)
    out = []
    with in_process(app) as client:
        seller = {"Authorization": f"Bearer {keys['seller']}"}
        offer = client.post(
            "/offers",
            json={"site": "zhongwei", "gpu": "H100", "count": 100, "price_cny_per_gpu_hour": 9},
            headers=seller,
        ).json()
        body = {"items": [{"offer_id": offer["id"], "gpus": 1}]}
        for headers in _variants(keys):
            answer = client.post("/orders", json=body, headers=headers)
            shown = answer.json()
            if answer.status_code == 201:
                shown = {k: shown[k] for k in ("status", "gpus", "cost_cny_per_hour")}
            out.append((answer.status_code, shown))
        text = client.post(
            "/orders",
            content=b'{"items": []}',
            headers={"Authorization": f"Bearer {keys['buyer']}", "Content-Type": "text/plain"},
        )
        out.append((text.status_code, text.json().get("error")))
    return out


def test_the_fast_path_and_the_route_give_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[bool] = []
    original = FastOrders._serve

    async def counting(self: FastOrders, *args: Any) -> bool:
        answered = await original(self, *args)
        served.append(answered)
        return answered

    monkeypatch.setattr(FastOrders, "_serve", counting)
    fast = _answers(tmp_path / "fast.db", fast=True)
    # the buyer's orders took the fast path; the text/plain body got its 415 from the guards
    # in front of it (suanli.api.guards) and never reached it
    assert served == [True] * 4 + [False] * 4
    served.clear()
    route = _answers(tmp_path / "route.db", fast=False)
    assert served == []
    assert fast == route
    statuses = [status for status, _ in fast]
    assert statuses[:4] == [201, 201, 201, 201]
    assert statuses[4:8] == [403, 401, 401, 401]
    assert fast[8] == (415, "unsupported_media_type")


def test_the_fast_path_uses_the_dependencies_authentication() -> None:
    from suanli.api import deps

    assert FastOrders._serve.__globals__["authenticate"] is deps.authenticate
