"""Send a verification record to the exchange (``POST {url}/verifications``).

The record is checked here first (a forged or damaged record is refused before sending),
then sent through :class:`suanli.client.ExchangeClient`, which raises the exchange's refusal
as the same :class:`~suanli.errors.SuanliError` class the server raised. ``transport``
replaces the network (tests pass an in-process exchange).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from suanli.errors import InvalidRequest
from suanli.probe.record import check_record

if TYPE_CHECKING:
    import httpx

__all__ = ["upload"]


def upload(
    record: Mapping[str, Any],
    *,
    url: str,
    key: str,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """POST ``record`` with the seller's API key; returns the exchange's answer (id, hash,
    verified GPUs). Raises the matching SuanliError when the exchange refuses it."""
    from suanli.client import ExchangeClient

    if not key:
        raise InvalidRequest("an API key is needed to upload", field="key", hint="Pass --key KEY")
    with ExchangeClient(url, key, transport=transport) as client:
        check_record(dict(record))
        return client.upload_verification(record)
