"""Migration 0003 creates the market's event log, and adopts one made before it existed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from suanli.store import Database
from suanli.store.market_tables import metadata
from suanli.store.migrate import head_revisions, upgrade


def _revision(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one())


def test_a_fresh_database_has_the_market_table(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert sa.inspect(db.engine).has_table("market_events")
    assert {_revision(db)} == set(head_revisions())  # migrated to the head, past 0003
    db.dispose()


def test_a_table_created_on_first_use_is_adopted(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    upgrade(db.engine, "0002")
    metadata.create_all(db.engine)  # what the market did before the migration existed
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO market_events (kind, payload, created_at)"
                " VALUES ('x', '{}', '2026-01-01 00:00:00')"
            )
        )
    upgrade(db.engine)
    assert {_revision(db)} == set(head_revisions())  # migrated to the head, past 0003
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM market_events")).scalar_one() == 1
    db.dispose()
