"""``suanli place`` on random files: valid items with random typos in field names, extreme or
wrong-typed numbers and impossible demands. The command exits 0 with a reason for every
unplaced demand, or 2 with one line that names the file, the item and the field; never a
traceback."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()

OFFERS: list[dict[str, Any]] = [
    {"id": "zw-h800", "site": "zhongwei", "gpu": "H800", "count": 64,
     "price_cny_per_gpu_hour": 19.0, "fabric": "nvlink-ib"},
    {"id": "cq-h100", "site": "chongqing", "gpu": "H100", "count": 16,
     "price_cny_per_gpu_hour": 14.5, "fabric": "nvlink-roce"},
    {"id": "sh-l40s", "site": "shanghai-metro", "gpu": "L40S", "count": 16,
     "price_cny_per_gpu_hour": 5.5, "fabric": "pcie-eth"},
]  # fmt: skip
REQUESTS: list[dict[str, Any]] = [
    {"id": "chat", "kind": "serve", "regions": {"shanghai": 0.7, "hangzhou": 0.3},
     "rtt_budget_ms": 15, "options": [{"gpu": "H100", "gpus_per_replica": 1, "replicas": 4},
                                      {"gpu": "L40S", "gpus_per_replica": 2, "replicas": 2}]},
    {"id": "train", "kind": "gang", "gpus": 16, "gpu_types": ["H800", "H100"],
     "min_interconnect_gb_s": 300, "hours": 72},
    {"id": "embed", "kind": "batch", "gpu_hours": 96, "gpu_types": ["L40S", "H800"],
     "deadline_h": 12, "start_h": 2},
]  # fmt: skip

EXTREMES = [
    1e20, -1, 0, 2**63 - 1, -(2**63), math.inf, -math.inf, True, False, "8", None, 1.5,
    "H100\x00", "", [], {},
]  # fmt: skip
IMPOSSIBLE = [
    ("gang", "min_memory_gb", 10_000),
    ("gang", "min_interconnect_gb_s", 99_999),
    ("batch", "min_memory_gb", 4_000),
    ("gang", "max_price_cny_per_gpu_hour", 0.01),
    ("serve", "rtt_budget_ms", 0),
    ("gang", "gpus", 4096),
    ("batch", "deadline_h", 2.5),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((*prefix, key))
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


mutation = st.one_of(
    st.tuples(st.just("typo"), st.integers(0, 10_000), st.sampled_from("xs_e")),
    st.tuples(st.just("extreme"), st.integers(0, 10_000), st.sampled_from(EXTREMES)),
    st.tuples(st.just("impossible"), st.integers(0, 10_000), st.sampled_from(IMPOSSIBLE)),
)


def _mutate(
    offers: list[dict[str, Any]], requests: list[dict[str, Any]], kind: str, pick: int, what: Any
) -> None:
    if kind == "impossible":
        target_kind, field, value = what
        for target in requests:
            if isinstance(target, dict) and target.get("kind") == target_kind:
                target[field] = value
        return
    doc = (offers, requests)[pick % 2]
    paths = [p for p in _paths(doc) if not isinstance(p[-1], int)]
    path = paths[pick % len(paths)]
    parent = _parent(doc, path)
    if kind == "typo":
        key = path[-1]
        parent[key[:1] + what + key[1:]] = parent.pop(key)
    else:
        parent[path[-1]] = what


def _run(
    offers: list[dict[str, Any]], requests: list[dict[str, Any]], fmt: str
) -> tuple[Any, Path, Path]:
    folder = Path(tempfile.mkdtemp(prefix="suanli-place-fuzz-"))
    paths = (folder / f"offers.{fmt}", folder / f"requests.{fmt}")
    for path, key, items in zip(paths, ("offers", "requests"), (offers, requests), strict=True):
        if fmt == "json":
            # JSON has no infinity: write what a JSON encoder would refuse as a huge number
            text = json.dumps({key: items}).replace("Infinity", "1e999")
        else:
            text = yaml.safe_dump({key: items}, allow_unicode=False)
        path.write_text(text, encoding="utf-8")
    result = runner.invoke(
        app, ["place", "--offers", str(paths[0]), "--requests", str(paths[1]), "--json"]
    )
    return result, paths[0], paths[1]


@given(
    mutations=st.lists(mutation, min_size=0, max_size=3),
    fmt=st.sampled_from(["yaml", "json"]),
)
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_random_files_give_a_plan_or_one_line_naming_file_item_field(
    mutations: list[tuple[str, int, Any]], fmt: str
) -> None:
    offers = json.loads(json.dumps(OFFERS))
    requests = json.loads(json.dumps(REQUESTS))
    for kind, pick, what in mutations:
        _mutate(offers, requests, kind, pick, what)
    result, offers_path, requests_path = _run(offers, requests, fmt)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code in (0, 2), (result.exit_code, output, result.exception)
    if result.exit_code == 0:
        doc = json.loads(result.stdout)
        ids = {r["id"] for r in requests if isinstance(r.get("id"), str)}
        placed, reasons = set(doc["assignments"]), doc["unplaced_reasons"]
        assert placed | set(reasons) == ids
        assert all(isinstance(reasons[d], str) and reasons[d] for d in reasons)
        return
    line = result.stderr.splitlines()[0]
    assert line.startswith("error: file ")
    assert str(offers_path) in line or str(requests_path) in line, line
    assert ", item " in line and ", field " in line, line


def test_an_impossible_demand_is_unplaced_and_the_rest_placed() -> None:
    requests = json.loads(json.dumps(REQUESTS))
    next(r for r in requests if r["kind"] == "gang")["min_memory_gb"] = 10_000
    result, _, _ = _run(json.loads(json.dumps(OFFERS)), requests, "yaml")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["unplaced_reasons"]) == {"train"}
    assert "memory" in doc["unplaced_reasons"]["train"]
    assert {"chat", "embed"} <= set(doc["assignments"])


def test_start_h_of_a_batch_request_counts() -> None:
    """96 GPU-hours between hours 10 and 12 need 48 GPUs at once, not 8."""
    requests = [
        {"id": "late", "kind": "batch", "gpu_hours": 96, "gpu_types": ["H800"],
         "start_h": 10, "deadline_h": 12},
    ]  # fmt: skip
    result, _, _ = _run(json.loads(json.dumps(OFFERS)), requests, "yaml")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert sum(a["gpus"] for a in doc["assignments"]["late"]) == 48


def test_a_misspelt_price_limit_is_refused() -> None:
    requests = json.loads(json.dumps(REQUESTS))
    requests[1]["max_prise_cny_per_gpu_hour"] = 3
    result, _, requests_path = _run(json.loads(json.dumps(OFFERS)), requests, "yaml")
    assert result.exit_code == 2
    line = result.stderr.splitlines()[0]
    assert str(requests_path) in line and "requests[1] (train)" in line
    assert "field max_prise_cny_per_gpu_hour: unknown field" in line
