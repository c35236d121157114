"""One place that turns exceptions into HTTP responses.

* :class:`SuanliError` subclasses -> their ``status_code`` with ``to_dict()`` as the body;
* request validation errors -> 422 naming each bad field;
* database errors that bad input can still provoke (a value out of the column's range) ->
  422, a busy database -> 503; anything else is a bug: 500 with a generic body, logged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli.errors import SuanliError

log = logging.getLogger("suanli.api")


def _suanli_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SuanliError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append({"field": location, "problem": str(error.get("msg", "invalid"))})
    first = problems[0] if problems else {"field": "", "problem": "invalid request"}
    body = {
        "error": "invalid_request",
        "message": f"{first['field'] or 'request'}: {first['problem']}",
        "hint": "see /docs for the expected shape of this request",
        "context": {"field": first["field"], "problems": problems[:20]},
    }
    return JSONResponse(body, status_code=422)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    return JSONResponse(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database rejected a value: %s", exc)
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": "a value is out of the range the exchange can store",
            "hint": "check numbers and text lengths against /docs",
        },
        status_code=422,
    )


def _busy(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return JSONResponse(
        {
            "error": "unavailable",
            "message": "the database is busy or unreachable",
            "hint": "retry in a moment",
        },
        status_code=503,
        headers={"Retry-After": "1"},
    )


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or busy (not that a query is wrong):
    a lost or refused connection, a pool with no connection to give, a lock timeout."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Any other DBAPI error: an outage is 503, anything else a bug (re-raised -> 500)."""
    if is_outage(exc):
        return _busy(request, exc)
    raise exc


def response_for(request: Request, exc: Exception) -> JSONResponse | None:
    """The response the app's handlers give for ``exc`` (None: not one of ours, re-raise).
    For code outside FastAPI's routing (:mod:`suanli.api.fastpath`)."""
    if isinstance(exc, SuanliError):
        return _suanli_error(request, exc)
    if isinstance(exc, DataError):
        return _data_error(request, exc)
    if is_outage(exc):
        return _busy(request, exc)
    return None


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(SuanliError, _suanli_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(InterfaceError, _busy)
    app.add_exception_handler(PoolTimeout, _busy)
    app.add_exception_handler(DBAPIError, _database_error)
