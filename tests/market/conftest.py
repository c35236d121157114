"""The market's HTTP tests run on the shared exchange (``tests/conftest.py``), on SQLite and,
when ``SUANLI_TEST_DATABASE_URL`` is set, on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import Exchange


@pytest.fixture
def market(exchange: Exchange) -> Exchange:
    """The exchange the market tests trade on."""
    return exchange
