"""Small helpers shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel

from suanli.inputs import MAX_INT

PathId = Annotated[int, Path(ge=1, le=MAX_INT)]

# Responses every authenticated endpoint may give, for the OpenAPI document.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown API key"},
    403: {"description": "the key's role may not do this"},
    422: {"description": "bad input (names the field)"},
}


def dump(model: type[BaseModel], row: object) -> dict[str, Any]:
    """An ORM row as a JSON-ready dict through its output schema."""
    return model.model_validate(row).model_dump(mode="json")
