"""Offers and requests from YAML, JSON and CSV; bad files name the item and field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.errors import DataFileError, InvalidRequest
from suanli.placement import BatchDemand, GangDemand, Offer, ServeDemand, place
from suanli.placement.files import parse_offers, parse_requests

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _read(name: str) -> tuple[str, str]:
    path = EXAMPLES / name
    return path.read_text(encoding="utf-8"), str(path)


@pytest.mark.parametrize("ext", ["yaml", "json", "csv"])
def test_examples_parse_and_place(ext: str) -> None:
    text, path = _read(f"offers.{ext}")
    offers = parse_offers(text, path=path)
    text, path = _read(f"requests.{ext}")
    requests = parse_requests(text, path=path)
    assert {o.id for o in offers} >= {"zw-h800", "qp-h100", "sh-l40s", "ga-a800"}
    kinds = {r.id: type(r) for r in requests}
    assert kinds == {
        "chat-east": ServeDemand,
        "train-70b": GangDemand,
        "embed-corpus": BatchDemand,
    }
    serve = next(r for r in requests if isinstance(r, ServeDemand))
    assert [o.gpu for o in serve.options] == ["H100", "L40S"]
    assert serve.options[0].rtt_budget_ms == {"shanghai": 15.0, "hangzhou": 15.0}
    plan = place(requests, offers)
    assert plan.status == "optimal"
    assert len(plan.assignments) == 3


def test_yaml_json_and_csv_requests_agree() -> None:
    parsed = {}
    for ext in ("json", "csv"):
        text, path = _read(f"requests.{ext}")
        parsed[ext] = parse_requests(text, path=path)
    assert parsed["json"] == parsed["csv"]


def test_negative_count_names_the_offer_and_field() -> None:
    text = "offers:\n  - {id: bad, site: guian, gpu: H100, count: -4, price_cny_per_gpu_hour: 9}\n"
    with pytest.raises(DataFileError) as err:
        parse_offers(text, path="o.yaml")
    assert err.value.field == "count"
    assert "bad" in err.value.message and "o.yaml" in err.value.message


def test_negative_count_offer_object_is_rejected_by_place() -> None:
    offer = Offer("neg", "guian", "H100", -1, 8, 9.0)
    with pytest.raises(InvalidRequest) as err:
        place([GangDemand("g", 8, ("H100",))], [offer])
    assert err.value.field == "count" and "neg" in err.value.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("- just\n- strings\n", "offers"),
        ("sellers: []\n", "offers"),
        ("offers: {id: x}\n", "offers"),
        ("offers:\n  - {id: x, site: s, gpu: H100, count: 8}\n", "price_cny_per_gpu_hour"),
        (
            "offers:\n  - {id: x, site: s, gpu: H100, count: eight, price_cny_per_gpu_hour: 1}\n",
            "count",
        ),
        (
            "offers:\n  - {id: x, site: s, gpu: H100, count: 8, price_cny_per_gpu_hour: 1,"
            " colour: red}\n",
            "colour",
        ),
    ],
)
def test_wrong_shape_offers_file(text: str, field: str) -> None:
    with pytest.raises(DataFileError) as err:
        parse_offers(text, path="offers.yaml")
    assert err.value.field == field


def test_bad_json_and_csv() -> None:
    with pytest.raises(DataFileError, match="not valid JSON"):
        parse_offers("{", path="offers.json")
    with pytest.raises(DataFileError, match="header"):
        parse_offers("site,gpu\nguian,H100\n", path="offers.csv")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("requests:\n  - {id: a, kind: rent}\n", "kind"),
        (
            "requests:\n  - {id: a, kind: serve, regions: {shanghai: 1}, rtt_budget_ms: 10}\n",
            "options",
        ),
        ("requests:\n  - {id: a, kind: gang, gpu_types: [H100]}\n", "gpus"),
        ("requests:\n  - {id: a, kind: batch, gpu_hours: 10, gpu_types: [L20]}\n", "deadline_h"),
        (
            "requests:\n  - id: a\n    regions: {shanghai: 1}\n"
            "    options: [{gpu: H100, replicas: 1}]\n",
            "rtt_budget_ms",
        ),
        (
            "requests:\n  - id: a\n    regions: {shanghai: 0}\n    rtt_budget_ms: 5\n"
            "    options: [{gpu: H100, replicas: 1}]\n",
            "regions",
        ),
    ],
)
def test_wrong_shape_requests_file(text: str, field: str) -> None:
    with pytest.raises(DataFileError) as err:
        parse_requests(text, path="requests.yaml")
    assert err.value.field == field or str(err.value.field).startswith(field + ".")
    assert "requests.yaml" in err.value.message


def test_a_demand_no_gpu_type_can_serve() -> None:
    with pytest.raises(InvalidRequest) as err:
        place([ServeDemand("nothing-fits", ())], [Offer("o", "guian", "H100", 8, 8, 9.0)])
    assert err.value.field == "options" and "nothing-fits" in err.value.message


def test_a_demand_its_own_gpu_types_cannot_meet_is_unplaced_and_the_rest_placed() -> None:
    plan = place(
        [
            GangDemand("fast-fabric", 16, ("L40S",), min_interconnect_gb_s=400),
            BatchDemand("too-big", 8.0, ("L40S",), 4.0, min_memory_gb=500),
            GangDemand("fine", 8, ("L40S",)),
        ],
        [Offer("o", "guian", "L40S", 32, 8, 5.0, fabric="nvlink-ib")],
    )
    assert set(plan.assignments) == {"fine"}
    assert set(plan.unplaced) == {"fast-fabric", "too-big"}
    assert "interconnect" in plan.unplaced["fast-fabric"]
    assert "memory" in plan.unplaced["too-big"]


def test_unknown_gpu_names_the_offer() -> None:
    with pytest.raises(InvalidRequest) as err:
        place([], [Offer("weird", "guian", "H1000", 8, 8, 1.0)])
    assert err.value.field == "gpu" and "weird" in err.value.message


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)


@given(
    st.lists(
        st.tuples(
            _names,
            st.integers(0, 10_000),
            st.sampled_from([1, 2, 4, 8]),
            st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 2)),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r[0],
    )
)
def test_offers_csv_round_trip(rows: list[tuple[str, int, int, float, bool]]) -> None:
    lines = ["id,site,gpu,count,gpus_per_node,price_cny_per_gpu_hour,interruptible"]
    lines += [f"{i},guian,H100,{c},{n},{p},{str(x).lower()}" for i, c, n, p, x in rows]
    offers = parse_offers("\n".join(lines) + "\n", path="o.csv")
    assert [
        (o.id, o.count, o.gpus_per_node, o.price_cny_per_gpu_hour, o.interruptible) for o in offers
    ] == rows
    assert all(o.end_h == math.inf for o in offers)
