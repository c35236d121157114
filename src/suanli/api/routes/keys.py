"""``/keys``: the operator creates, lists and revokes API keys over the API (as ``suanli
admin`` does on the database), so the dashboard can manage keys with an operator key.

A new key is in the creation response only; the exchange keeps its hash. Key creation is
deliberately not idempotent-replayable: a stored response would keep the secret. A revoked
key is refused at once by the process that revoked it and within the key cache's few
seconds by the others.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field
from sqlalchemy import select

from suanli.api.deps import Caller, DatabaseDep, Paging, require_roles
from suanli.api.routes._common import AUTH_RESPONSES
from suanli.api.schemas import Input, Label, Name
from suanli.errors import Conflict, NotFound
from suanli.store.keys import create_key
from suanli.store.models import ApiKey, utcnow
from suanli.store.orders import iso

router = APIRouter(prefix="/keys", tags=["keys"], responses=AUTH_RESPONSES)
OPERATOR = Depends(require_roles("operator"))
KeyId = Path(min_length=1, max_length=32, pattern=r"^k[0-9a-f]+$")


class KeyIn(Input):
    role: Literal["seller", "buyer", "operator"]
    name: Name
    tenant: Label | None = Field(None, description="tenant the key acts for (default: name)")


def _row(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.id,
        "name": key.name,
        "role": key.role,
        "tenant": key.tenant,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


@router.get("")
def list_keys(db: DatabaseDep, paging: Paging, caller: Caller = OPERATOR) -> dict[str, object]:
    """Every key's id, name, role, tenant and revocation time (never the key itself)."""
    with db.read() as session:
        rows: list[object] = [
            _row(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))
        ]
    return paging.wrap(rows[paging.offset : paging.offset + paging.limit], len(rows))


@router.post("", status_code=201)
def make_key(body: KeyIn, db: DatabaseDep, caller: Caller = OPERATOR) -> dict[str, Any]:
    """Create a key; the answer holds it (``key``), once."""
    with db.write() as session:
        new = create_key(session, role=body.role, name=body.name, tenant=body.tenant or None)
    return {"key": new.secret, "key_id": new.key_id, "name": new.name, "role": new.role,
            "tenant": new.tenant}  # fmt: skip


@router.post("/{key_id}/revoke")
def revoke_key(
    request: Request, db: DatabaseDep, key_id: str = KeyId, caller: Caller = OPERATOR
) -> dict[str, Any]:
    """Revoke a key; 409 when it already is, or when it is the caller's own."""
    if key_id == caller.key_id:
        raise Conflict("an operator cannot revoke the key it is using",
                       hint="revoke it with another operator key")  # fmt: skip
    with db.write() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no key {key_id!r}", hint="GET /keys lists them")
        if key.revoked_at is not None:
            raise Conflict(f"key {key_id} is already revoked")
        key.revoked_at = utcnow()
        row = _row(key)
    request.app.state.key_cache.clear()  # this process refuses the key from now on
    return row
