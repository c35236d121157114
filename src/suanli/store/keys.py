"""API keys: created once, shown once, stored only as a SHA-256 hash.

A key looks like ``sk_<key id>_<secret>``; the id is public (it appears in logs and
idempotency records), the secret is 32 random bytes. Random 256-bit secrets need no slow
password hash: SHA-256 cannot be inverted and there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.errors import InvalidRequest
from suanli.store.models import ApiKey

ROLES = ("seller", "buyer", "operator")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id, its role and the tenant it acts for."""

    key_id: str
    role: str
    tenant: str
    region: str | None = None  # default caller region for the gateway (a city)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key; ``secret`` is the whole key, shown to its owner once."""

    key_id: str
    name: str
    role: str
    tenant: str
    secret: str


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    session: Session,
    *,
    role: str,
    name: str,
    tenant: str | None = None,
    region: str | None = None,
) -> NewKey:
    """Add a key with ``role`` for ``tenant`` (default: ``name``) and return it once;
    ``region`` (a catalog city or site) is where its gateway calls come from by default."""
    if role not in ROLES:
        raise InvalidRequest(
            f"unknown role {role!r}", field="role", hint="use one of: " + ", ".join(ROLES)
        )
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("a key needs a name of 1-200 characters", field="name")
    tenant = (tenant or name).strip()
    if not tenant or len(tenant) > 200:
        raise InvalidRequest("a tenant name has 1-200 characters", field="tenant")
    if region is not None:
        from suanli.catalog.geography import place

        region = place(region).name  # NotFound for an unknown place
    key_id = "k" + secrets.token_hex(6)
    secret = f"sk_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            id=key_id,
            name=name,
            role=role,
            tenant=tenant,
            key_hash=hash_key(secret),
            region=region,
        )
    )
    session.flush()
    return NewKey(key_id=key_id, name=name, role=role, tenant=tenant, secret=secret)


def lookup_key(session: Session, secret: str) -> Caller | None:
    """The caller a key belongs to, or None when the key is unknown or revoked."""
    row = session.execute(
        select(ApiKey.id, ApiKey.role, ApiKey.tenant, ApiKey.revoked_at, ApiKey.region).where(
            ApiKey.key_hash == hash_key(secret)
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return Caller(key_id=row.id, role=row.role, tenant=row.tenant, region=row.region)
