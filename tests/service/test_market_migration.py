"""Migration 0004 moves the market into tables and keeps what a 0003 database held."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from suanli.store import Database
from suanli.store.migrate import head_revisions, upgrade


def _revision(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one())


def test_a_fresh_database_has_the_market_tables(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    inspector = sa.inspect(db.engine)
    for table in ("market_orders", "clearing_rounds", "ledger_entries"):
        assert inspector.has_table(table)
    assert "reserved" in {c["name"] for c in inspector.get_columns("offers")}
    assert {_revision(db)} == set(head_revisions())  # migrated to the head
    db.dispose()


def test_upgrading_from_0003_keeps_offers_and_fills_and_the_old_log(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    upgrade(db.engine, "0003")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO offers (seller, site, hub, region_role, gpu, count, available,"
                " gpus_per_node, price_cny_per_gpu_hour, fabric, start_h, interruptible, status,"
                " version, created_at, updated_at) VALUES ('s', 'zhongwei', 'Ningxia', 'west',"
                " 'H100-SXM', 8, 8, 8, 10.0, 'nvlink-ib', 0, 1, 'open', 1,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO market_events (kind, payload, created_at)"
                " VALUES ('x', '{}', '2026-01-01 00:00:00')"
            )
        )
    upgrade(db.engine)
    assert {_revision(db)} == set(head_revisions())  # migrated to the head
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT reserved, available FROM offers")).one() == (0, 8)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM market_events")).scalar_one() == 1
        try:  # the new CHECK: free + reserved never exceed the count
            conn.execute(sa.text("UPDATE offers SET reserved = 1"))
            raise AssertionError("the CHECK constraint let an offer oversell")
        except sa.exc.IntegrityError:
            pass
    db.dispose()
