"""The error tree. Every error Suanli raises on purpose is a :class:`SuanliError`.

::

    SuanliError                 base; carries a message, a hint and structured context
    ├── InvalidRequest          bad input: names the field and the allowed range   (HTTP 422)
    │   └── DataFileError       a file in the wrong shape: names file, item, field (HTTP 422)
    ├── NotFound                an unknown name or id; lists the closest matches  (HTTP 404)
    ├── Conflict                stale version, duplicate, capacity already taken  (HTTP 409)
    ├── Infeasible              a valid request that no configuration can meet    (HTTP 422)
    ├── Unauthorized            no or unknown API key                             (HTTP 401)
    ├── Forbidden               a key whose role or tenant may not do this        (HTTP 403)
    └── Unavailable             a needed device, driver or service is missing     (HTTP 503)

The API maps these to status codes in one handler; the CLI prints ``message`` and ``hint``
on one line each and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SuanliError(Exception):
    """Base class: ``message`` says what is wrong, ``hint`` how to fix it."""

    status_code = 400
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context: dict[str, Any] = dict(context or {})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready body: error code, message, hint and context."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.context:
            body["context"] = self.context
        return body


class InvalidRequest(SuanliError):
    """Bad input; ``field`` names what is wrong."""

    status_code = 422
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        ctx = dict(context or {})
        if field is not None:
            ctx.setdefault("field", field)
        super().__init__(message, hint=hint, context=ctx)
        self.field = field


class DataFileError(InvalidRequest):
    """A file (scenario, offers, requests, config.json) in the wrong shape."""

    code = "bad_file"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        item: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {path}" if path else "",
                f"item {item}" if item else "",
                f"field {field}" if field else "",
            )
            if part
        )
        full = f"{where}: {message}" if where else message
        super().__init__(full, field=field, hint=hint, context={"path": path, "item": item})
        self.path = path
        self.item = item


class NotFound(SuanliError):
    """An unknown name or id; ``suggestions`` holds the closest known names."""

    status_code = 404
    code = "not_found"

    def __init__(
        self,
        message: str,
        *,
        suggestions: list[str] | None = None,
        hint: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.suggestions = list(suggestions or [])
        if hint is None and self.suggestions:
            hint = "Did you mean: " + ", ".join(self.suggestions) + "?"
        ctx = dict(context or {})
        if self.suggestions:
            ctx["suggestions"] = self.suggestions
        super().__init__(message, hint=hint, context=ctx)


class Conflict(SuanliError):
    """The request clashes with current state (stale version, capacity taken, duplicate)."""

    status_code = 409
    code = "conflict"


class Infeasible(SuanliError):
    """A valid request that no available configuration can satisfy; says why."""

    status_code = 422
    code = "infeasible"


class Unauthorized(SuanliError):
    """No API key, or one the exchange does not know."""

    status_code = 401
    code = "unauthorized"


class Forbidden(SuanliError):
    """A known key whose role or tenant may not do this."""

    status_code = 403
    code = "forbidden"


class Unavailable(SuanliError):
    """A needed device, driver or backing service is not there."""

    status_code = 503
    code = "unavailable"


#: Every error class by the ``error`` code it puts in a response body: the one map clients use
#: to raise, from an API answer, the class the server raised.
ERRORS_BY_CODE: dict[str, type[SuanliError]] = {
    cls.code: cls
    for cls in (
        SuanliError,
        InvalidRequest,
        DataFileError,
        NotFound,
        Conflict,
        Infeasible,
        Unauthorized,
        Forbidden,
        Unavailable,
    )
}

# Answers without one of our codes (a 404 route, a 413 or 429 from a proxy): by status.
_ERRORS_BY_STATUS: dict[int, type[SuanliError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    503: Unavailable,
}


def error_from_body(status_code: int, body: Mapping[str, Any]) -> SuanliError:
    """The :class:`SuanliError` an API error answer stands for: the class named by its
    ``error`` code (else by its status code), with its message, hint and context."""
    code = body.get("error")
    cls = ERRORS_BY_CODE.get(code if isinstance(code, str) else "") or _ERRORS_BY_STATUS.get(
        status_code, Unavailable if status_code >= 500 else SuanliError
    )
    message = str(body.get("message") or body.get("detail") or f"HTTP {status_code}")
    hint = body.get("hint")
    hint = str(hint) if hint else None
    raw_context = body.get("context")
    context: dict[str, Any] = dict(raw_context) if isinstance(raw_context, Mapping) else {}
    error: SuanliError
    if cls is DataFileError:
        error = DataFileError(message, hint=hint)  # the message already names the place
        error.field = context.get("field")
    elif issubclass(cls, InvalidRequest):
        error = cls(message, field=context.get("field"), hint=hint, context=context)
    elif issubclass(cls, NotFound):
        error = cls(message, suggestions=context.get("suggestions"), hint=hint, context=context)
    else:
        error = cls(message, hint=hint, context=context)
    error.context = context
    error.status_code = status_code
    return error
