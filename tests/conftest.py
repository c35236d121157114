"""Shared fixtures and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from suanli.client import InProcessTransport

BASE_URL = "http://testserver"


@pytest.fixture(autouse=True, scope="session")
def _no_rate_limits() -> Iterator[None]:
    """Apps built from the environment in tests have no rate limits: one test client sends
    many requests from one address. The rate-limit tests pass their own Settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PER_IP", "PER_KEY", "AUTH_FAILURES"):
            patch.setenv(f"SUANLI_RATE_LIMIT_{name}", "")
        yield


@contextmanager
def in_process(app: Any, **headers: str) -> Iterator[httpx.Client]:
    """An HTTP client for ``app`` served in this process (lifespan included), the way
    ``suanli demo`` runs its exchange: the test's replacement for a TestClient."""
    transport = InProcessTransport(app)
    try:
        with httpx.Client(
            transport=transport, base_url=BASE_URL, headers=headers, follow_redirects=True
        ) as client:
            yield client
    finally:
        transport.close()
