"""The whole trade from the CLI (``orders``, ``leases release``, ``offers update``,
``requests show``, ``market``) through Typer's CliRunner against an in-process exchange;
and the README's walkthrough, run as written, ends with an active lease."""

from __future__ import annotations

import json
import re
import shlex
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

ROOT = Path(__file__).resolve().parents[2]
URL = "http://exchange.test"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    exchange = create_app(f"sqlite:///{tmp_path / 'trade.db'}")
    with exchange.state.db.write() as session:
        made = {
            who: create_key(session, role=role, name=name).secret
            for who, role, name in (
                ("SELLER", "seller", "acme-dc"),
                ("BUYER", "buyer", "alpha-ai"),
                ("ADMIN", "operator", "ops"),
            )
        }
    transport = InProcessTransport(exchange)
    monkeypatch.setattr(remote, "transport", transport)
    monkeypatch.setenv("SUANLI_URL", URL)
    yield made
    transport.close()


def run(*args: str, key: str | None = None, answer: str | None = None) -> Any:
    env = {"SUANLI_KEY": key} if key else {}
    return CliRunner().invoke(cli, list(args), env=env, input=answer)


def walkthrough() -> list[tuple[str, list[str]]]:
    """(key name, argv) of the README's CLI walkthrough: the block ending in an order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
                 if "orders place --quote" in b)  # fmt: skip
    steps = []
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        line = line.split("  #", 1)[0].strip()
        found = re.match(r"SUANLI_KEY=\$(\w+)\s+suanli (.*)", line)
        assert found, line
        steps.append((found[1], shlex.split(found[2])))
    return steps


def test_readme_walkthrough_ends_with_an_active_lease(keys: dict[str, str]) -> None:
    steps = walkthrough()
    assert [argv[:2] for _, argv in steps][-3:] == [
        ["orders", "place"],
        ["requests", "show"],
        ["leases", "list"],
    ]
    outputs = []
    for who, argv in steps:
        result = run(*argv, key=keys[who], answer="y\n")
        assert result.exit_code == 0, f"{argv}\n{result.output}"
        outputs.append(result.stdout)
    assert "Proceed?" in outputs[-3] and "CNY/hour" in outputs[-3]
    assert "met" in outputs[-2] and "why:" in outputs[-2]
    leases = json.loads(run("leases", "list", "--json", key=keys["BUYER"]).stdout)["items"]
    assert leases and all(lease["status"] == "active" for lease in leases)
    shown = json.loads(run("requests", "show", "1", "--json", key=keys["BUYER"]).stdout)
    assert shown["placement_source"] == "leases"
    assert {a["lease_id"] for a in shown["assignments"]} == {lease["id"] for lease in leases}
    assert shown["regions"] and all(r["met"] is True for r in shown["regions"])


def _offer(keys: dict[str, str], count: int = 64, price: str = "12.5") -> dict[str, Any]:
    added = run("offers", "add", "--site", "zhongwei", "--gpu", "H100", "--count", str(count),
                "--price", price, "--json", key=keys["SELLER"])  # fmt: skip
    assert added.exit_code == 0, added.output
    offer: dict[str, Any] = json.loads(added.stdout)
    return offer


def test_declining_the_confirmation_places_nothing(keys: dict[str, str]) -> None:
    offer = _offer(keys)
    args = ("orders", "place", "--offer", str(offer["id"]), "--gpus", "8", "--hours", "3")
    declined = run(*args, key=keys["BUYER"], answer="n\n")
    assert declined.exit_code == 1
    assert "Proceed? [Y/n]" in declined.stdout and "300.00 CNY for 3 h" in declined.stdout
    assert json.loads(run("orders", "list", "--json", key=keys["BUYER"]).stdout)["total"] == 0
    accepted = run(*args, key=keys["BUYER"], answer="\n")  # Enter takes the default: yes
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(run("orders", "list", "--json", key=keys["BUYER"]).stdout)["total"] == 1


def test_order_release_and_reprice(keys: dict[str, str]) -> None:
    offer = _offer(keys)
    placed = run("orders", "place", "--offer", str(offer["id"]), "--gpus", "16", "--yes",
                 "--json", key=keys["BUYER"])  # fmt: skip
    assert placed.exit_code == 0, placed.output
    order = json.loads(placed.stdout)
    (lease,) = order["leases"]
    assert (order["gpus"], lease["status"]) == (16, "active")
    listed = run("orders", "list", key=keys["BUYER"])
    assert listed.exit_code == 0 and str(order["id"]) in listed.stdout

    released = run("leases", "release", str(lease["id"]), "--json", key=keys["BUYER"])
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["status"] != "active"
    again = run("leases", "release", str(lease["id"]), key=keys["BUYER"])
    assert again.exit_code == 2 and "error:" in again.stderr

    for price in ("11.5", "10.25"):  # each update reads the version the last one made
        updated = run("offers", "update", str(offer["id"]), "--price", price, "--json",
                      key=keys["SELLER"])  # fmt: skip
        assert updated.exit_code == 0, updated.output
        body = json.loads(updated.stdout)
        assert body["price_cny_per_gpu_hour"] == float(price) and body["available"] == 64
    theirs = run("offers", "update", str(offer["id"]), "--price", "1", key=keys["BUYER"])
    assert theirs.exit_code == 2


def test_quote_that_is_not_feasible_is_refused_before_asking(keys: dict[str, str]) -> None:
    _offer(keys, count=8)
    submitted = run("requests", "submit", "--model", "Qwen2.5-72B", "--rate", "400",
                    "--region", "shanghai", "--json", key=keys["BUYER"])  # fmt: skip
    request_id = json.loads(submitted.stdout)["id"]
    quoted = json.loads(run("quote", str(request_id), "--json", key=keys["BUYER"]).stdout)
    assert not quoted["feasible"]
    result = run("orders", "place", "--quote", str(quoted["id"]), key=keys["BUYER"])
    assert result.exit_code == 2 and "not feasible" in result.stderr
    assert "Proceed?" not in result.stdout
    shown = run("requests", "show", str(request_id), key=keys["BUYER"])
    assert shown.exit_code == 0 and "why:" in shown.stdout


def test_market_bid_ask_book_cancel_and_clear(keys: dict[str, str]) -> None:
    offer = _offer(keys, count=32)
    window = ("--hours", "4", "--start-h", "500000")
    ask = run("market", "ask", "--offer", str(offer["id"]), "--price", "9", "--gpus", "16",
              *window, "--json", key=keys["SELLER"])  # fmt: skip
    assert ask.exit_code == 0, ask.output
    assert json.loads(ask.stdout)["gpu"] == "H100-SXM"  # the offer's GPU and site
    hub = json.loads(ask.stdout)["hub"]
    bid = run("market", "bid", "--gpu", "H100", "--hub", hub, "--price", "11", "--gpus", "8",
              *window, "--json", key=keys["BUYER"])  # fmt: skip
    assert bid.exit_code == 0, bid.output
    spare = run("market", "bid", "--gpu", "H100", "--hub", hub, "--price", "1", "--gpus", "8",
                *window, "--json", key=keys["BUYER"])  # fmt: skip
    spare_id = json.loads(spare.stdout)["id"]

    mine = json.loads(run("market", "book", "--json", key=keys["BUYER"]).stdout)
    assert {o["id"] for o in mine["items"]} == {json.loads(bid.stdout)["id"], spare_id}
    everyone = json.loads(run("market", "book", "--json", key=keys["ADMIN"]).stdout)
    assert everyone["total"] == 3
    assert run("market", "book", key=keys["BUYER"]).exit_code == 0

    cancelled = run("market", "cancel", str(spare_id), key=keys["BUYER"])
    assert cancelled.exit_code == 0 and str(spare_id) in cancelled.stdout
    wrong_side = run("market", "ask", "--offer", str(offer["id"]), "--price", "9",
                     "--gpus", "1", key=keys["BUYER"])  # fmt: skip
    assert wrong_side.exit_code == 2 and "error:" in wrong_side.stderr

    refused = run("market", "clear", key=keys["BUYER"])
    assert refused.exit_code == 2
    cleared = run("market", "clear", "--json", key=keys["ADMIN"])
    assert cleared.exit_code == 0, cleared.output
    result = json.loads(cleared.stdout)
    assert result["fills"] >= 1 and result["volume_gpus"] == 8
    assert run("market", "clear", key=keys["ADMIN"]).exit_code == 0
