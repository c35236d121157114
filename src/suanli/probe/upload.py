"""Send a verification record to the exchange (``POST {url}/verifications``).

Uses the standard library only, so ``suanli probe --upload`` works on a bare GPU node. The
transport is injectable: tests pass one that calls a FastAPI TestClient.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from suanli.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    SuanliError,
    Unauthorized,
    Unavailable,
)
from suanli.probe.record import check_record

ROUTE = "/verifications"

#: (url, body bytes, headers) -> (status code, response body bytes)
Transport = Callable[[str, bytes, Mapping[str, str]], tuple[int, bytes]]


def urllib_transport(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """POST with urllib; HTTP errors come back as (status, body), network errors raise."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")
    except (urllib.error.URLError, OSError) as exc:
        raise Unavailable(
            f"cannot reach the exchange at {url}: {exc}",
            hint="Check --url (e.g. http://127.0.0.1:8000) and that the exchange is running.",
        ) from exc


_ERRORS: dict[int, type[SuanliError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    422: InvalidRequest,
}


def upload(
    record: Mapping[str, Any],
    *,
    url: str,
    key: str,
    transport: Transport | None = None,
) -> dict[str, Any]:
    """POST ``record`` with the seller's API key; returns the exchange's answer (id, hash,
    verified GPUs). Raises the matching SuanliError when the exchange refuses it."""
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(
            f"bad exchange URL {url!r}", field="url", hint="Use http(s)://host:port"
        )
    if not key:
        raise InvalidRequest("an API key is needed to upload", field="key", hint="Pass --key KEY")
    check_record(dict(record))
    body = json.dumps(dict(record), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
        "X-API-Key": key,
    }
    send = transport or urllib_transport
    status, answer = send(url.rstrip("/") + ROUTE, body, headers)
    try:
        data = json.loads(answer.decode("utf-8") or "{}")
    except ValueError:
        data = {"message": answer[:200].decode("utf-8", "replace")}
    if 200 <= status < 300:
        return dict(data) if isinstance(data, dict) else {"result": data}
    message = (
        (data.get("message") or data.get("detail") or str(data))
        if isinstance(data, dict)
        else str(data)
    )
    error = _ERRORS.get(status, Unavailable if status >= 500 else InvalidRequest)
    raise error(f"the exchange refused the record (HTTP {status}): {message}")
