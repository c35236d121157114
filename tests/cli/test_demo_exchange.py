"""The demo's exchange stage runs the real API on SQLite: quote, order, lease, index."""

from __future__ import annotations

from pathlib import Path

from suanli.cli.demo_exchange import DEMO_OFFERS, run_exchange_demo


def test_exchange_stage_reserves_what_it_quoted(tmp_path: Path) -> None:
    out = run_exchange_demo(tmp_path / "exchange.db")
    quote, leases = out["quote"], out["leases"]
    assert quote["feasible"]
    assert leases, "an ordered quote leases GPUs"
    assert sum(x["gpus"] for x in leases) == quote["gpus"]
    # Exactly the leased GPUs left the offers they came from; nothing else moved.
    listed = {o["id"]: o for o in out["offers"]}
    taken = {x["offer_id"]: x["gpus"] for x in leases}
    for offer_id, offer in listed.items():
        assert offer["count"] - offer["available"] == taken.get(offer_id, 0)
    assert len(listed) == len(DEMO_OFFERS)
    # The index is computed from the exchange's own fill(s) of the leased GPU.
    index = out["index"]
    assert index is not None and index["gpu"] == leases[0]["gpu"]
    assert index["latest_cny_per_gpu_hour"] == leases[0]["price_cny_per_gpu_hour"]
