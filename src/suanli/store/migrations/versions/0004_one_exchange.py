"""one exchange: call-auction book, rounds and ledger in tables; asks reserve offer GPUs

Adds ``market_orders`` (the resting book), ``clearing_rounds`` (one row per round, a unique
period so several nodes run one round per period) and ``ledger_entries`` (double-entry, in
fen); ``offers.reserved`` (GPUs held by resting asks); and the columns that let an auction
fill be a row of ``leases`` and ``fills`` like a direct order. The old event log table
``market_events`` is left in place, unread and unwritten, so no history is destroyed by the
upgrade; an operator may archive and drop it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
        batch.create_check_constraint(
            "ck_offers_reserved", "reserved >= 0 AND available + reserved <= count"
        )
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="direct"))
        batch.add_column(
            sa.Column("pricing", sa.String(16), nullable=False, server_default="on-demand")
        )
        batch.add_column(sa.Column("market_order_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("start_h", sa.Float(), nullable=True))
        batch.add_column(sa.Column("end_h", sa.Float(), nullable=True))
        batch.add_column(sa.Column("activated_at", _UTC, nullable=True))
        batch.add_column(sa.Column("metered_h", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="direct"))
        batch.add_column(
            sa.Column("pricing", sa.String(16), nullable=False, server_default="on-demand")
        )
        batch.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
    op.execute("UPDATE fills SET pricing = 'interruptible' WHERE interruptible")
    op.create_table(
        "market_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("side", sa.String(3), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("offer_id", sa.Integer(), sa.ForeignKey("offers.id"), nullable=True),
        sa.Column("gpu", sa.String(64), nullable=False),
        sa.Column("hub", sa.String(100), nullable=False),
        sa.Column("pricing", sa.String(16), nullable=False),
        sa.Column("start_h", sa.Float(), nullable=False),
        sa.Column("end_h", sa.Float(), nullable=False),
        sa.Column("price_fen_per_gpu_hour", sa.BigInteger(), nullable=False),
        sa.Column("quantity_gpus", sa.Integer(), nullable=False),
        sa.Column("remaining_gpus", sa.Integer(), nullable=False),
        sa.Column("all_or_nothing", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            "remaining_gpus >= 0 AND remaining_gpus <= quantity_gpus",
            name="ck_market_orders_remaining",
        ),
    )
    op.create_index("ix_market_orders_account", "market_orders", ["account"])
    op.create_index("ix_market_orders_status", "market_orders", ["status", "id"])
    op.create_table(
        "clearing_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("node", sa.String(100), nullable=False),
        sa.Column("cleared_at_h", sa.Float(), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("volume_gpus", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("txn", sa.String(64), nullable=False),
        sa.Column("account", sa.String(220), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("memo", sa.String(32), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_entries_txn", "ledger_entries", ["txn"])
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account"])
    op.create_index("ix_ledger_entries_lease_id", "ledger_entries", ["lease_id"])


def downgrade() -> None:
    op.drop_table("ledger_entries")
    op.drop_table("clearing_rounds")
    op.drop_table("market_orders")
    with op.batch_alter_table("fills") as batch:
        for name in ("round_id", "pricing", "kind"):
            batch.drop_column(name)
    with op.batch_alter_table("leases") as batch:
        for name in ("metered_h", "activated_at", "end_h", "start_h", "market_order_id",
                     "pricing", "kind"):  # fmt: skip
            batch.drop_column(name)
    with op.batch_alter_table("offers") as batch:
        batch.drop_constraint("ck_offers_reserved", type_="check")
        batch.drop_column("reserved")
