"""``suanli offers|requests|quote|leases`` through Typer's CliRunner, talking HTTP to an
in-process exchange (``suanli.cli.remote.transport`` is an in-process ASGI transport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanli.app import create_app
from suanli.cli import remote
from suanli.cli.main import app as cli
from suanli.client import InProcessTransport
from suanli.store import create_key

URL = "http://exchange.test"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    exchange = create_app(f"sqlite:///{tmp_path / 'cli.db'}")
    with exchange.state.db.write() as session:
        made = {
            who: create_key(session, role=role, name=who).secret
            for who, role in (("dc", "seller"), ("team", "buyer"), ("other", "buyer"))
        }

    transport = InProcessTransport(exchange)
    monkeypatch.setattr(remote, "transport", transport)
    monkeypatch.setenv("SUANLI_URL", URL)
    yield made
    transport.close()


def run(*args: str, key: str | None = None) -> Any:
    env = {"SUANLI_KEY": key} if key else {}
    return CliRunner().invoke(cli, list(args), env=env)


def test_seller_adds_lists_and_withdraws_offers(keys: dict[str, str]) -> None:
    added = run("offers", "add", "--site", "zhongwei", "--gpu", "H100", "--count", "64",
                "--price", "12.5", "--json", key=keys["dc"])  # fmt: skip
    assert added.exit_code == 0, added.output
    offer = json.loads(added.stdout)
    assert (offer["gpu"], offer["available"]) == ("H100-SXM", 64)

    listed = run("offers", "list", "--filter", "gpu=H100 count>=8 hub=west", "--json",
                 key=keys["team"])  # fmt: skip
    assert [o["id"] for o in json.loads(listed.stdout)["items"]] == [offer["id"]]
    table = run("offers", "list", key=keys["team"])
    assert table.exit_code == 0 and "H100-SXM" in table.stdout

    out = run("offers", "withdraw", str(offer["id"]), "--gpus", "16", "--json", key=keys["dc"])
    assert json.loads(out.stdout)["available"] == 48


def test_buyer_submits_lists_requests_and_sees_leases(keys: dict[str, str], tmp_path: Path) -> None:
    inline = run(
        "requests", "submit", "--model", "Qwen2.5-7B", "--rate", "5",
        "--region", "shanghai=2", "--region", "beijing", "--json", key=keys["team"],
    )  # fmt: skip
    assert inline.exit_code == 0, inline.output
    assert json.loads(inline.stdout)["spec"]["regions"] == {"shanghai": 2.0, "beijing": 1.0}

    spec = tmp_path / "train.yaml"
    spec.write_text("kind: train\ngpus: 16\ngpu_types: [H800]\nhours: 72\n")
    from_file = run("requests", "submit", "--file", str(spec), "--json", key=keys["team"])
    assert json.loads(from_file.stdout)["kind"] == "train"

    mine = json.loads(run("requests", "list", "--json", key=keys["team"]).stdout)
    assert mine["total"] == 2
    theirs = json.loads(run("requests", "list", "--json", key=keys["other"]).stdout)
    assert theirs["total"] == 0
    leases = json.loads(run("leases", "list", "--json", key=keys["team"]).stdout)
    assert leases["items"] == []


def test_errors_are_one_line_with_a_hint(keys: dict[str, str]) -> None:
    no_key = run("offers", "list")
    assert no_key.exit_code == 2
    assert "needs an API key" in no_key.output and "SUANLI_KEY" in no_key.output
    wrong_role = run("offers", "add", "--site", "zhongwei", "--gpu", "H100", "--count", "8",
                     "--price", "10", key=keys["team"])  # fmt: skip
    assert wrong_role.exit_code == 2 and "may not do this" in wrong_role.output
    bad_filter = run("offers", "list", "--filter", "price<=cheap", key=keys["team"])
    assert bad_filter.exit_code == 2 and "price takes a number" in bad_filter.output
    assert "Traceback" not in bad_filter.output
    bad_quote = run("quote", "999", key=keys["team"])
    assert bad_quote.exit_code == 2 and "no request 999" in bad_quote.output


def test_unreachable_exchange_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from suanli.bench.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["offers", "list", "--url", url, "--key", "sk_x"])
    assert result.exit_code == 2
    assert "cannot reach the exchange" in result.output and "suanli serve" in result.output
