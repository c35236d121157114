"""What every command that talks to a running exchange shares: the ``--url`` / ``--key``
options (``$SUANLI_URL`` / ``$SUANLI_KEY``) and :func:`connect`, which gives the
:class:`~suanli.client.ExchangeClient` for them.

Tests point every command at an in-process exchange by setting :data:`transport` (an
``httpx.BaseTransport``, e.g. :class:`suanli.client.InProcessTransport`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import httpx

    from suanli.client import ExchangeClient

__all__ = ["KEY", "URL", "connect", "transport"]

DEFAULT_URL = "http://127.0.0.1:8000"
MISSING_KEY_HINT = "pass --key or set SUANLI_KEY (suanli admin create-key makes one)"

URL = typer.Option(DEFAULT_URL, "--url", envvar="SUANLI_URL", help="exchange base URL")
KEY = typer.Option(None, "--key", envvar="SUANLI_KEY", help="API key (suanli admin create-key)")

#: None: the network. Tests set an in-process transport here.
transport: httpx.BaseTransport | None = None


def connect(url: str, key: str | None = None) -> ExchangeClient:
    """The client for the exchange at ``url`` as the holder of ``key``."""
    from suanli.client import ExchangeClient

    return ExchangeClient(url, key, transport=transport, missing_key_hint=MISSING_KEY_HINT)
