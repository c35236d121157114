"""Persistence (service layer): SQLAlchemy models, repositories, migrations, sessions.

For other service modules (routers, web):

* :class:`~suanli.store.db.Database` -- ``Database.connect(url)`` opens and migrates a
  database; ``with db.read() as s`` / ``with db.write() as s`` give sessions (writes are
  committed at the end of the block; SQLite write transactions are ``BEGIN IMMEDIATE``).
* :class:`~suanli.store.keys.Caller` -- who is calling (``key_id``, ``role``, ``tenant``).
* :mod:`suanli.store.models` -- the tables; :mod:`suanli.store.offers`,
  :mod:`suanli.store.orders`, :mod:`suanli.store.requests` -- the repositories.

Adding tables: add models (in a new module under ``store/``, imported below so Alembic sees
them) and a migration under ``store/migrations/versions`` whose ``down_revision`` is the
current head; ``Database.connect`` applies it at start-up.
"""

from suanli.store.db import Database, default_database_url, resolve_database_url
from suanli.store.gateway_tables import LeaseMinuteRow, ReplicaRow, SloCreditRow
from suanli.store.keys import ROLES, Caller, NewKey, create_key, lookup_key
from suanli.store.models import Base
from suanli.store.verification_tables import Verification

__all__ = [
    "ROLES",
    "Base",
    "Caller",
    "Database",
    "LeaseMinuteRow",
    "NewKey",
    "ReplicaRow",
    "SloCreditRow",
    "Verification",
    "create_key",
    "default_database_url",
    "lookup_key",
    "resolve_database_url",
]
