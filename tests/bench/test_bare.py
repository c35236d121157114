"""The bench's yardstick: the bare endpoint writes one row per request, and the ratio the
bench reports is Suanli's order write over it."""

from __future__ import annotations

from pathlib import Path

from suanli.bench import bare
from suanli.bench.api import versus_bare
from suanli.store import Database
from tests.conftest import in_process


def test_the_bare_endpoint_inserts_one_row_per_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    db = Database.connect(url)
    bare.prepare(db)
    db.dispose()
    with in_process(bare.create_bare_app(url)) as client:
        for gpus in (1, 2, 3):
            answer = client.post(bare.PATH, json={"items": [{"offer_id": 1, "gpus": gpus}]})
            assert answer.status_code == 201, answer.text
        assert client.post(bare.PATH, json={"items": "x"}).status_code == 422
    assert bare.count_rows(url) == 3


def test_versus_bare_is_a_ratio_of_the_same_runs_figures() -> None:
    orders = {"writes_per_s": 900.0, "server_cpu_ms_per_request": 0.6}
    bare_phase = {"writes_per_s": 1200.0, "server_cpu_ms_per_request": 0.4}
    ratio = versus_bare(orders, bare_phase)
    assert ratio["writes_per_s_ratio"] == 0.75
    assert ratio["server_cpu_per_request_ratio"] == 1.5
    missing = versus_bare(orders, {"writes_per_s": 0.0})
    assert missing["writes_per_s_ratio"] is None and missing["server_cpu_per_request_ratio"] is None
