"""``Idempotency-Key`` on POST: a retried request gets the stored response, not a twin.

The response is stored in the same transaction that creates the object, keyed by (API key
id, Idempotency-Key), together with a fingerprint of the method, path and validated body:

* same key, same request -> the stored status and body (header ``Idempotent-Replayed``);
* same key, different request -> 422 (the key was reused for something else);
* two identical requests at once -> on SQLite the second waits for the write lock and then
  finds the record; on PostgreSQL the unique index makes the second transaction fail, it
  rolls back (with whatever it created) and replays the first one's response.

Failed requests store nothing, so a retry after a 409 tries again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.errors import InvalidRequest
from suanli.store.db import Database
from suanli.store.keys import Caller
from suanli.store.models import IdempotencyRecord

Action = Callable[[Session], tuple[int, dict[str, Any]]]
HEADER = "idempotency-key"


def fingerprint(request: Request, body: Any) -> str:
    """SHA-256 of method, path and the canonical JSON of the validated body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> JSONResponse:
    if record.fingerprint != digest:
        raise InvalidRequest(
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
            hint="use a new key for a new request; reuse a key only to retry the same one",
        )
    return JSONResponse(
        record.body, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _find(session: Session, key_id: str, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.key_id == key_id, IdempotencyRecord.idem_key == key
        )
    ).first()


def run_post(
    request: Request, db: Database, caller: Caller, body: Any, action: Action
) -> JSONResponse:
    """Run ``action`` in a write transaction, honouring the request's Idempotency-Key."""
    key = request.headers.get(HEADER)
    if key is None:
        with db.write() as session:
            status, payload = action(session)
        return JSONResponse(payload, status_code=status)
    key = key.strip()
    if not key or len(key) > 200:
        raise InvalidRequest("Idempotency-Key must be 1-200 characters", field="Idempotency-Key")
    digest = fingerprint(request, body)
    with db.read() as session:
        found = _find(session, caller.key_id, key)
        if found is not None:
            return _replay(found, digest)
    try:
        with db.write() as session:
            found = _find(session, caller.key_id, key)  # a racing twin may have committed
            if found is not None:
                return _replay(found, digest)
            status, payload = action(session)
            session.add(
                IdempotencyRecord(
                    key_id=caller.key_id,
                    idem_key=key,
                    fingerprint=digest,
                    status_code=status,
                    body=payload,
                )
            )
            session.flush()
    except IntegrityError:
        with db.read() as session:
            found = _find(session, caller.key_id, key)
        if found is None:
            raise
        return _replay(found, digest)
    return JSONResponse(payload, status_code=status)
