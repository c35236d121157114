"""Shared fixtures and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from suanli.client import InProcessTransport

BASE_URL = "http://testserver"


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
