"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis): whatever
the input, the exchange never answers with a 5xx. Each operation is called with a key whose
role may use it, so the generated input reaches the handlers, not just the auth check."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from suanli.app import create_app
from suanli.store import create_key
from tests.conftest import OFFER

KEYS: dict[str, str] = {}
_FOLDER = Path(tempfile.mkdtemp(prefix="suanli-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)  # also when this module's tests are deselected


def _build_app() -> Any:
    """The app under test (built at import: schemathesis reads the schema at collection)."""
    from suanli.store.offers import insert_offer

    app = create_app(f"sqlite:///{_FOLDER / 'fuzz.db'}")
    with app.state.db.write() as session:
        for role in ("seller", "buyer", "operator"):
            KEYS[role] = create_key(session, role=role, name=f"fuzz-{role}").secret
        insert_offer(session, "fuzz-seller", OFFER)  # something to find, update and order
    return app


APP = _build_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# The coverage phase enumerates boundary values for every parameter (minutes on 2 shared
# cores); random fuzzing stays on, and test_bad_input.py sends the boundary cases by hand.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    APP.state.db.dispose()
    shutil.rmtree(_FOLDER, ignore_errors=True)


def _role(method: str, path: str) -> str:
    if method == "POST" and path == "/offers":
        return "seller"
    if path.startswith("/offers/") and method in ("PATCH", "POST"):
        return "seller"
    if method == "POST" or path.startswith(("/requests", "/quotes", "/orders")):
        return "buyer"
    return "operator"


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_no_input_gives_a_server_error(case: Any) -> None:
    role = _role(case.method.upper(), case.path)
    response = case.call(headers={"Authorization": f"Bearer {KEYS[role]}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


# The routes the reliability review fuzzed (offers, the market, verifications) again with
# the coverage phase on: boundary and wrong-type values for every field and parameter
# (about 900 calls, seconds).
edges = schemathesis.openapi.from_asgi("/openapi.json", APP).include(
    path_regex=r"^/(offers|market|verifications)"
)
edges.config.phases.coverage.enabled = True
edges.config.phases.fuzzing.enabled = False
edges.config.phases.examples.enabled = False
edges.config.phases.stateful.enabled = False


@edges.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_boundary_inputs_to_offers_market_and_verifications(case: Any) -> None:
    role = _role(case.method.upper(), case.path)
    response = case.call(headers={"Authorization": f"Bearer {KEYS[role]}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
