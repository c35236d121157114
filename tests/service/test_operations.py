"""Operations: /healthz, /metrics in Prometheus text format, and the admin key commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from suanli.cli.main import app as cli
from suanli.store import Database
from suanli.store.keys import hash_key
from suanli.store.models import ApiKey
from tests.conftest import Exchange


def test_healthz_and_metrics(sqlite_exchange: Exchange) -> None:
    ex = sqlite_exchange
    assert ex.client.get("/healthz").json()["status"] == "ok"
    offer = ex.offer(count=64)
    ex.offer(site="guian", gpu="H20", count=32)
    ex.client.post(
        "/orders", json={"items": [{"offer_id": offer["id"], "gpus": 24}]},
        headers=ex.as_("buyer_a"),
    )  # fmt: skip
    ex.client.get("/offers", headers=ex.as_("buyer_a"))
    response = ex.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'suanli_gpus_listed{hub="Ningxia"} 64' in text
    assert 'suanli_gpus_leased{hub="Ningxia"} 24' in text
    assert 'suanli_gpus_available{hub="Guizhou"} 32' in text
    assert re.search(
        r'suanli_http_requests_total\{method="POST",route="/orders",status="201"\} 1', text
    )
    assert re.search(
        r'suanli_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="/offers"\} 1',
        text,
    )
    for line in text.splitlines():  # every sample line is "name{labels} value"
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+", line), line


def test_admin_creates_lists_and_revokes_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    runner = CliRunner()
    made = runner.invoke(
        cli, ["admin", "create-key", "--role", "seller", "--name", "acme", "--database-url", url,
              "--json"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith("sk_") and key["tenant"] == "acme"
    db = Database.connect(url)
    with db.read() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == hash_key(key["key"]) and key["key"] not in stored.key_hash
    listed = runner.invoke(cli, ["admin", "list-keys", "--database-url", url, "--json"])
    assert key["key"] not in listed.stdout
    assert json.loads(listed.stdout)[0]["role"] == "seller"
    revoked = runner.invoke(cli, ["admin", "revoke-key", key["key_id"], "--database-url", url])
    assert revoked.exit_code == 0
    with db.read() as session:
        assert session.scalars(select(ApiKey)).one().revoked_at is not None
    db.dispose()
    bad = runner.invoke(
        cli, ["admin", "create-key", "--role", "king", "--name", "x", "--database-url", url]
    )
    assert bad.exit_code == 2 and "unknown role" in bad.output
