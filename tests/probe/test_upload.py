"""Uploading records to a test exchange; the seller's offers then show "verified"."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from suanli.catalog import gpu
from suanli.errors import DataFileError, Forbidden, InvalidRequest, Unauthorized
from suanli.probe.challenge import answer
from suanli.probe.overrides import measured_gpu, measured_peaks
from suanli.probe.record import content_sha256
from suanli.probe.upload import upload
from tests.conftest import Exchange as SharedExchange

BASE = "http://testserver"


# This file's names for the shared exchange's keys (tests/conftest.py).
WHO = {"seller": "seller_a", "other_seller": "seller_b", "buyer": "buyer_a"}


class Exchange:
    """The shared test exchange, with the key names used here."""

    def __init__(self, shared: SharedExchange) -> None:
        self.app = shared.app
        self.transport = shared.transport
        self.client = shared.client
        self.keys = {who: shared.key(name) for who, name in WHO.items()}

    def get(self, path: str, who: str = "buyer") -> Any:
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.keys[who]}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def exchange(sqlite_exchange: SharedExchange) -> Exchange:
    return Exchange(sqlite_exchange)


def _fresh(exchange: Exchange, record: dict[str, Any], who: str = "seller") -> dict[str, Any]:
    """``record`` as a probe run made now under a fresh challenge of the exchange would seal
    it (new time, the challenge's answer, a new hash)."""
    response = exchange.client.post(
        "/verifications/challenges", headers={"Authorization": f"Bearer {exchange.keys[who]}"}
    )
    assert response.status_code == 201, response.text
    out = {k: v for k, v in record.items() if k != "sha256"}
    out["created_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out["challenge"] = answer(response.json()["nonce"])
    out["sha256"] = content_sha256(out)
    return out


def _offer(exchange: Exchange, gpu_name: str, who: str = "seller") -> int:
    response = exchange.client.post(
        "/offers",
        json={
            "site": "zhongwei",
            "gpu": gpu_name,
            "count": 8,
            "gpus_per_node": 8,
            "price_cny_per_gpu_hour": 20.0,
            "fabric": "nvlink-ib",
        },
        headers={"Authorization": f"Bearer {exchange.keys[who]}"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_upload_marks_the_sellers_offers_verified(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    offer_id = _offer(exchange, "H200")
    before = exchange.get(f"/offers/{offer_id}/verification")
    assert before["verified"] is False and before["verified_at"] is None

    answer = upload(
        h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport
    )
    assert answer["sha256"] == h200_record["sha256"]
    assert answer["seller"] == "acme-dc"
    assert answer["verified_gpus"] == ["H200-SXM"]

    after = exchange.get(f"/offers/{offer_id}/verification")
    assert after["verified"] is True
    assert after["verified_at"].startswith(h200_record["created_at"][:19])
    assert after["verification_id"] == answer["id"]
    status = exchange.get("/verifications/status?seller=acme-dc&gpu=h200")
    assert status["gpu"] == "H200-SXM" and status["verified"] is True

    full = exchange.get(f"/verifications/{answer['id']}")
    assert full["record"] == h200_record
    listed = exchange.get("/verifications?seller=acme-dc")
    assert [v["id"] for v in listed] == [answer["id"]]


def test_other_sellers_and_other_gpus_are_not_verified(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    upload(h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    their_h200 = _offer(exchange, "H200", who="other_seller")
    our_h100 = _offer(exchange, "H100")
    assert exchange.get(f"/offers/{their_h200}/verification")["verified"] is False
    assert exchange.get(f"/offers/{our_h100}/verification")["verified"] is False


def test_the_same_record_twice_is_stored_once(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    first = upload(h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    again = upload(h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    assert again["id"] == first["id"]
    with pytest.raises(InvalidRequest, match="another seller"):
        upload(
            h200_record,
            url=BASE,
            key=exchange.keys["other_seller"],
            transport=exchange.transport,
        )


def test_a_forged_record_is_refused_by_the_exchange(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    forged = copy.deepcopy(h200_record)
    forged["gpus"][0]["verdict"]["status"] = "verified"
    forged["gpus"][0]["reported"]["name"] = "NVIDIA H100 80GB HBM3"
    with pytest.raises(DataFileError):  # the client checks before sending
        upload(forged, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    response = exchange.client.post(
        "/verifications",
        json=forged,
        headers={"Authorization": f"Bearer {exchange.keys['seller']}"},
    )
    assert response.status_code == 422
    assert response.json()["context"]["field"] == "sha256"


def test_only_seller_keys_upload(exchange: Exchange, h200_record: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        upload(h200_record, url=BASE, key=exchange.keys["buyer"], transport=exchange.transport)
    with pytest.raises(Unauthorized):
        upload(h200_record, url=BASE, key="sk_unknown", transport=exchange.transport)


def test_bad_url_and_missing_key_are_refused_before_sending(h200_record: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        upload(h200_record, url="ftp://x", key="k")
    with pytest.raises(InvalidRequest):
        upload(h200_record, url=BASE, key="")


def test_measured_figures_override_the_datasheet(h200_record: dict[str, Any]) -> None:
    peaks = measured_peaks(h200_record, "H200-SXM")
    assert set(peaks) == {"hbm_tb_s", "bf16_tflops", "fp8_tflops"}
    h200 = measured_gpu(gpu("H200"), h200_record)
    # Datasheet-equivalent peaks: a healthy card lands near its datasheet.
    assert 4.4 < h200.hbm_tb_s < 4.9 and 900 < h200.bf16_tflops < 1050
    assert "measured by suanli probe" in h200.note
    assert measured_gpu(gpu("H100"), h200_record) == gpu("H100")  # nothing measured for it


def test_cli_probe_upload_reaches_the_exchange(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from suanli.cli import remote
    from suanli.cli.main import app
    from suanli.probe import run as probe_run
    from tests.probe.conftest import H200_ROW, smi_runner

    monkeypatch.setattr(
        probe_run, "load_environment", lambda: probe_run.Environment(smi_runner([H200_ROW]))
    )
    monkeypatch.setattr(remote, "transport", exchange.transport)
    result = CliRunner().invoke(
        app,
        ["probe", "--quick", "--json", "--upload", "--url", BASE, "--key", exchange.keys["seller"]],
    )
    assert result.exit_code == 0, result.output
    import json

    body = json.loads(result.stdout)
    assert body["upload"]["sha256"] == body["sha256"]
    # Unmeasured GPUs are stored but do not make the offers verified.
    assert body["upload"]["verified_gpus"] == []


def test_an_unreachable_exchange_is_unavailable(h200_record: dict[str, Any]) -> None:
    from suanli.errors import Unavailable

    with pytest.raises(Unavailable, match="cannot reach the exchange"):
        upload(h200_record, url="http://127.0.0.1:9", key="k")


def test_offer_lists_and_gets_show_verified_with_the_date(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    verified_id = _offer(exchange, "H200")
    unverified_id = _offer(exchange, "H100")
    theirs_id = _offer(exchange, "H200", who="other_seller")
    listed = {o["id"]: o for o in exchange.get("/offers")["items"]}
    assert not any(o["verified"] for o in listed.values())
    assert all(o["verified_at"] is None for o in listed.values())

    upload(h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    listed = {o["id"]: o for o in exchange.get("/offers?limit=10")["items"]}
    assert listed[verified_id]["verified"] is True
    assert listed[verified_id]["verified_at"].startswith(h200_record["created_at"][:19])
    assert listed[unverified_id]["verified"] is False
    assert listed[theirs_id]["verified"] is False and listed[theirs_id]["verified_at"] is None
    one = exchange.get(f"/offers/{verified_id}")
    assert one["verified"] is True and one["verified_at"] == listed[verified_id]["verified_at"]
    assert exchange.get(f"/offers/{unverified_id}")["verified"] is False
    # A new offer of a verified model shows it at once.
    fresh = exchange.client.post(
        "/offers",
        json={"site": "guian", "gpu": "H200", "count": 8, "price_cny_per_gpu_hour": 18.0},
        headers={"Authorization": f"Bearer {exchange.keys['seller']}"},
    )
    assert fresh.status_code == 201 and fresh.json()["verified"] is True


def test_an_offer_page_costs_one_verification_query(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    h200_record = _fresh(exchange, h200_record)
    from sqlalchemy import event

    for _ in range(6):
        _offer(exchange, "H200")
        _offer(exchange, "H200", who="other_seller")
    upload(h200_record, url=BASE, key=exchange.keys["seller"], transport=exchange.transport)
    engine = exchange.app.state.db.engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        page = exchange.get("/offers?limit=50")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sum(o["verified"] for o in page["items"]) == 6
    assert sum("verifications" in sql for sql in statements) == 1


def _upload_as(exchange: Exchange, record: dict[str, Any], who: str = "seller") -> httpx.Response:
    return exchange.client.post(
        "/verifications",
        json=record,
        headers={"Authorization": f"Bearer {exchange.keys[who]}"},
    )


def _seal(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "sha256"}
    out.update(changes)
    out["sha256"] = content_sha256(out)
    return out


def test_an_old_record_without_a_challenge_is_refused(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    response = _upload_as(exchange, h200_record)  # recorded before any challenge: not fresh
    assert response.status_code == 422 and "challenge" in response.text
    assert exchange.get("/verifications") == []


def test_a_hand_written_answer_or_a_borrowed_nonce_is_refused(
    exchange: Exchange, h200_record: dict[str, Any]
) -> None:
    good = _fresh(exchange, h200_record)
    # the right nonce, an answer made up instead of running the seeded workload
    guessed = _seal(good, challenge={"nonce": good["challenge"]["nonce"], "answer": "0" * 64})
    response = _upload_as(exchange, guessed)
    assert response.status_code == 422 and "answer" in response.text
    # another seller's nonce, correctly answered
    theirs = _fresh(exchange, h200_record, who="other_seller")
    assert _upload_as(exchange, theirs).status_code == 409
    # a nonce nobody issued
    made_up = _seal(good, challenge=answer("ab" * 16))
    assert _upload_as(exchange, made_up).status_code == 409
    # the genuine record still goes in, once; a second record on the same nonce does not
    assert _upload_as(exchange, good).status_code == 201
    second = _seal(good, hostname_note="another run")
    response = _upload_as(exchange, second)
    assert response.status_code == 409 and "already used" in response.text


def test_an_expired_challenge_is_refused(exchange: Exchange, h200_record: dict[str, Any]) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from suanli.store.verification_tables import ProbeChallenge

    record = _fresh(exchange, h200_record)
    with exchange.app.state.db.write() as session:
        session.execute(
            update(ProbeChallenge).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = _upload_as(exchange, record)
    assert response.status_code == 409 and "expired" in response.text


def test_the_answer_is_the_seeded_workload() -> None:
    from suanli.probe.challenge import seed_of, workload_answer

    assert workload_answer("00" * 16) == workload_answer("00" * 16)
    assert workload_answer("00" * 16) != workload_answer("01" * 16)
    assert seed_of("ff" * 16) == 2**64 - 1
