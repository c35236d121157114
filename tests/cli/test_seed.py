"""``suanli seed`` leaves a realistic exchange (offers at every catalog site, several sellers
and buyers, fills and an index) and prints the dashboard URL and working keys; ``--serve``
then runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanli.app import create_app
from suanli.catalog import sites
from suanli.cli import serve_cmd
from suanli.cli.main import app as cli
from suanli.client import ExchangeClient, InProcessTransport


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('seed') / 'exchange.db'}"
    result = CliRunner().invoke(cli, ["seed", "--database-url", url, "--json"])
    assert result.exit_code == 0, result.output
    return url, json.loads(result.stdout)


def test_seed_lists_every_site_and_trades(seeded: tuple[str, dict[str, Any]]) -> None:
    url, out = seeded
    assert out["dashboard"] == "http://127.0.0.1:8000/"
    assert len(out["keys"]["seller"]) >= 3 and len(out["keys"]["buyer"]) >= 3
    transport = InProcessTransport(create_app(url))
    try:
        public = ExchangeClient("http://seeded.test", transport=transport)
        operator = public.with_key(out["keys"]["operator"]["ops"])
        offers = operator.list_offers(limit=500)["items"]
        assert {o["site"] for o in offers} == {s.id for s in sites()}
        assert len({o["seller"] for o in offers}) >= 3
        fills = operator.list_fills(limit=500)
        assert fills["total"] >= 10
        assert len({f["buyer"] for f in fills["items"]}) >= 2
        assert len({f["gpu"] for f in fills["items"]}) >= 3
        assert operator.market_fills()["total"] >= 1  # the auction cleared
        index = public.index("H100")
        assert index["latest_cny_per_gpu_hour"] > 0
        for role, named in out["keys"].items():  # every printed key works
            name, key = next(iter(named.items()))
            who = public.with_key(key).request("GET", "/web/api/whoami")
            assert (who["role"], who["tenant"]) == (role, name)
        statuses = set(out["requests"].values())
        assert len(out["requests"]) == 3 and statuses
    finally:
        transport.close()


def test_seed_prints_the_url_and_keys_then_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(serve_cmd, "serve", lambda **kw: served.update(kw))
    url = f"sqlite:///{tmp_path / 'served.db'}"
    result = CliRunner().invoke(cli, ["seed", "--database-url", url, "--serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.stdout
    key_lines = [line.split() for line in result.stdout.splitlines() if " sk_" in line]
    assert {parts[0] for parts in key_lines} == {"operator", "buyer", "seller"}
    assert all(parts[-1].startswith("sk_") for parts in key_lines)
    assert served["database_url"] == url and served["port"] == 8123


@pytest.mark.slow
def test_demo_serve_seeds_its_exchange_and_serves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(serve_cmd, "serve", lambda **kw: served.update(kw))
    report = tmp_path / "demo.html"
    args = ["demo", "--days", "0.1", "--report", str(report), "--serve", "--port", "8125"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8125/" in result.stdout
    assert any(line.split()[:1] == ["operator"] for line in result.stdout.splitlines())
    assert served["database_url"] == f"sqlite:///{report.with_suffix('.db').resolve()}"
