"""The verification record: layout, canonical hash, tamper detection."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from suanli.errors import DataFileError
from suanli.probe.record import (
    SCHEMA,
    build_record,
    canonical_bytes,
    check_record,
    content_sha256,
    parse_created_at,
    plain,
)


def test_the_h200_fixture_is_a_valid_sealed_record(h200_record: dict[str, Any]) -> None:
    assert check_record(h200_record) is h200_record
    assert h200_record["schema"] == SCHEMA
    assert h200_record["mode"] == "full"
    assert h200_record["duration_s"] < 300
    (entry,) = h200_record["gpus"]
    assert entry["identification"]["claimed"] == "H200-SXM"
    assert entry["verdict"]["status"] == "verified"
    names = {m["name"] for m in entry["measurements"]}
    assert {
        "bf16_matmul_tflops",
        "fp8_matmul_tflops",
        "hbm_copy_tb_s",
        "h2d_gb_s",
        "d2h_gb_s",
        "decode_step_ms",
    } <= names
    assert parse_created_at(h200_record).tzinfo is not None


def test_an_edited_record_fails_its_hash(h200_record: dict[str, Any]) -> None:
    forged = copy.deepcopy(h200_record)
    forged["gpus"][0]["measurements"][0]["value"] = 989.0
    with pytest.raises(DataFileError) as info:
        check_record(forged)
    assert info.value.field == "sha256"


@pytest.mark.parametrize("field", ["schema", "gpus", "sha256", "machine"])
def test_missing_fields_are_named(h200_record: dict[str, Any], field: str) -> None:
    broken = {k: v for k, v in h200_record.items() if k != field}
    with pytest.raises(DataFileError) as info:
        check_record(broken)
    assert info.value.field == field


def test_not_an_object_and_wrong_schema() -> None:
    with pytest.raises(DataFileError):
        check_record([1, 2])
    record = build_record(machine={}, gpus=[], mode="quick", tool_version="0", duration_s=1.0)
    record["schema"] = "other/9"
    with pytest.raises(DataFileError, match="unknown schema"):
        check_record(record)


def test_hash_is_over_canonical_json_without_the_hash() -> None:
    when = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    a = build_record(
        machine={"b": 1, "a": 2},
        gpus=[{"reported": {}, "verdict": {}}],
        mode="full",
        tool_version="0.1.0",
        duration_s=12.3456789,
        created_at=when,
    )
    b = json.loads(json.dumps(a, indent=3))  # same content, other formatting and key order
    assert content_sha256(b) == a["sha256"]
    assert a["created_at"] == "2026-11-28T18:00:00Z"
    assert a["duration_s"] == 12.3457  # 6 significant digits
    body = canonical_bytes(a)
    assert b'"sha256"' not in body and b": " not in body
    assert body.index(b'"a"') < body.index(b'"b"')


def test_plain_turns_values_into_json() -> None:
    assert plain({"x": (1, 2.0000001), "y": float("nan"), "z": None}) == {
        "x": [1, 2.0],
        "y": None,
        "z": None,
    }
