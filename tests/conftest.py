"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_rate_limits() -> Iterator[None]:
    """Apps built from the environment in tests have no rate limits: one test client sends
    many requests from one address. The rate-limit tests pass their own Settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PER_IP", "PER_KEY", "AUTH_FAILURES"):
            patch.setenv(f"SUANLI_RATE_LIMIT_{name}", "")
        yield
