"""``POST /verifications`` with records that carry a valid hash but odd content: any value of
any JSON type at any place in the record. The exchange stores it (200/201) or answers 422
naming the field, never a 5xx."""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from suanli.app import create_app
from suanli.probe.record import content_sha256
from suanli.store import create_key
from tests.conftest import sqlite_copy

RECORD: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "probe" / "fixtures" / "h200_probe.json").read_text()
)

# The cases the reliability review found answered 500 (each with a valid hash).
REVIEW_CASES: list[tuple[tuple[Any, ...], Any, str]] = [
    (("machine",), "x", "machine"),
    (("gpus", 0, "verdict"), "verified", "gpus[0].verdict"),
    (("gpus", 0, "identification", "claimed"), ["a"], "gpus[0].identification.claimed"),
    (("created_at",), "0001-01-01T00:00:00Z", "created_at"),
    (("created_at",), "9999-12-31T23:59:59Z", "created_at"),
    (("gpus", 0, "reported", "name"), 7, "gpus[0].reported.name"),
    (("gpus",), [], "gpus"),
    (("tool",), None, "tool"),
    (("machine", "cpu_count"), True, "machine.cpu_count"),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "sha256":
                out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:2]):
            out += _paths(item, (*prefix, i))
    return out


PATHS = _paths(RECORD)


def _with(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    changed["sha256"] = content_sha256(changed)
    return changed


@pytest.fixture(scope="module")
def seller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("fuzz-verifications")
    from suanli.store import Database

    template = folder / "template.db"
    Database.connect(f"sqlite:///{template}").dispose()
    app = create_app(sqlite_copy(template, folder))
    with app.state.db.write() as session:
        secret = create_key(session, role="seller", name="s", tenant="acme").secret
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(("path", "value", "field"), REVIEW_CASES)
def test_odd_types_with_a_valid_hash_are_422_naming_the_field(
    seller: tuple[TestClient, dict[str, str]], path: tuple[Any, ...], value: Any, field: str
) -> None:
    client, auth = seller
    response = client.post("/verifications", json=_with(RECORD, path, value), headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["context"]["field"] == field


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["\x00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "verified"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@given(path=st.sampled_from(PATHS), value=json_values)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_record_gives_a_server_error(
    seller: tuple[TestClient, dict[str, str]], path: tuple[Any, ...], value: Any
) -> None:
    client, auth = seller
    response = client.post("/verifications", json=_with(RECORD, path, value), headers=auth)
    assert response.status_code in (200, 201, 422), (path, value, response.text[:300])
    if response.status_code == 422:
        assert response.json()["message"]
