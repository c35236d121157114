"""``Idempotency-Key`` on POST: a retried request gets the stored response, not a twin.

The response is stored in the same transaction that creates the object, keyed by (API key
id, Idempotency-Key), together with a fingerprint of the method, path and validated body:

* same key, same request -> the stored status and body (header ``Idempotent-Replayed``);
* same key, different request -> 422 (the key was reused for something else);
* two identical requests at once -> on SQLite the second waits for the write lock and then
  finds the record (the look-up runs inside the write transaction); on PostgreSQL the
  unique index makes the second transaction fail, it rolls back (with whatever it created)
  and replays the first one's response.

Failed requests store nothing, so a retry after a 409 tries again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.errors import InvalidRequest
from suanli.store.db import Database
from suanli.store.keys import Caller
from suanli.store.models import IdempotencyRecord, utcnow

Action = Callable[[Session], tuple[int, dict[str, Any]]]
HEADER = "idempotency-key"


def fingerprint(request: Request, body: Any) -> str:
    """SHA-256 of method, path and the canonical JSON of the validated body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_RECORDS = cast(Table, IdempotencyRecord.__table__)
_FIND = select(_RECORDS.c.fingerprint, _RECORDS.c.status_code, _RECORDS.c.body).where(
    _RECORDS.c.key_id == bindparam("key_id"), _RECORDS.c.idem_key == bindparam("key")
)
_INSERT = insert(_RECORDS)


def _replay(record: Any, digest: str) -> JSONResponse:
    if record.fingerprint != digest:
        raise InvalidRequest(
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
            hint="use a new key for a new request; reuse a key only to retry the same one",
        )
    return JSONResponse(
        record.body, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _find(session: Session, key_id: str, key: str) -> Any:
    return session.connection().execute(_FIND, {"key_id": key_id, "key": key}).first()


def _key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise InvalidRequest("Idempotency-Key must be 1-200 characters", field="Idempotency-Key")
    return key


def _written(
    session: Session, caller: Caller, key: str | None, digest: str, action: Action
) -> tuple[int, Any, bool]:
    """Like :func:`_in_transaction`, but (status, body, replayed) instead of a response."""
    if key is None:
        status, payload = action(session)
        return status, payload, False
    found = _find(session, caller.key_id, key)
    if found is not None:
        _replay(found, digest)  # raises on a fingerprint mismatch
        return int(found.status_code), found.body, True
    status, payload = action(session)
    _store(session, caller, key, digest, status, payload)
    return status, payload, False


def _store(
    session: Session, caller: Caller, key: str, digest: str, status: int, payload: Any
) -> None:
    session.connection().execute(
        _INSERT,
        {
            "key_id": caller.key_id,
            "idem_key": key,
            "fingerprint": digest,
            "status_code": status,
            "body": payload,
            "created_at": utcnow(),
        },
    )


def _in_transaction(
    session: Session, caller: Caller, key: str | None, digest: str, action: Action
) -> JSONResponse:
    """The request's work inside an open write transaction: replay a stored response or run
    ``action`` and store its response under the Idempotency-Key (when one was sent)."""
    if key is None:
        status, payload = action(session)
        return JSONResponse(payload, status_code=status)
    found = _find(session, caller.key_id, key)
    if found is not None:
        return _replay(found, digest)
    status, payload = action(session)
    _store(session, caller, key, digest, status, payload)
    return JSONResponse(payload, status_code=status)


def run_post(
    request: Request, db: Database, caller: Caller, body: Any, action: Action
) -> JSONResponse:
    """Run ``action`` in a write transaction, honouring the request's Idempotency-Key."""
    key = _key_of(request)
    digest = "" if key is None else fingerprint(request, body)
    try:
        with db.write() as session:
            return _in_transaction(session, caller, key, digest, action)
    except IntegrityError:  # PostgreSQL: a twin with the same key committed first
        if key is None:
            raise
        with db.read() as session:
            found = _find(session, caller.key_id, key)
        if found is None:
            raise
        return _replay(found, digest)


async def post(
    request: Request,
    db: Database,
    caller: Caller,
    body: Any,
    action: Action,
    *,
    lean: bool = False,
) -> JSONResponse:
    """:func:`run_post` from an ``async`` endpoint.

    On SQLite the write runs on the event loop, in a group commit
    (:mod:`suanli.api.groupcommit`): the writes that arrive together share one
    transaction, each in its own savepoint, and every response waits for the commit.
    SQLite has one writer at a time anyway; a transaction per request spent most of the
    write lock's time on BEGIN/COMMIT and session set-up, and handing each write to the
    thread pool cost more CPU (GIL hand-offs) than the write itself. ``lean=True`` promises
    that ``action`` adds no ORM objects (it may read through the session and send SQL to
    the driver), which allows a cheaper savepoint. On PostgreSQL, whose
    round trips and row-lock waits would stall the loop, it runs in the thread pool.
    """
    if not db.is_sqlite:
        return await run_in_threadpool(run_post, request, db, caller, body, action)
    key = _key_of(request)
    digest = "" if key is None else fingerprint(request, body)
    from suanli.api.groupcommit import committer

    # The response is rendered after the write lock is released, not inside the batch.
    status, payload, replayed = await committer(db).submit(
        lambda session: _written(session, caller, key, digest, action), lean=lean
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(payload, status_code=status, headers=headers)
