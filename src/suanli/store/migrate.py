"""Apply the packaged Alembic migrations (``store/migrations``) to an engine.

Called by :meth:`Database.connect` at start-up, so a new or old database is brought to the
latest schema before the first request. On PostgreSQL a transaction-level advisory lock
serialises concurrent upgrades (several worker processes starting at once); on SQLite the
upgrade runs inside one ``BEGIN IMMEDIATE`` transaction, which takes the file's write lock.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

_MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_ID = 0x5A4E4C49  # "SANLI"; any constant shared by every worker


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The newest revision(s) of the packaged migrations (read once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(engine: Engine) -> frozenset[str]:
    """The revision(s) the database is at (empty for a new database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine``'s database to ``revision`` (a cheap no-op when it is
    already at the head, which is the common case at start-up)."""
    if revision == "head" and current_heads(engine) == head_revisions():
        return
    config = alembic_config()
    if engine.dialect.name == "sqlite":
        writer = engine.execution_options(suanli_sqlite_immediate=True)
        with writer.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
