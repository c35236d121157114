"""request lifecycle: bids may name the buyer's request; 'open' requests are 'submitted'

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("market_orders") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
    op.create_index("ix_market_orders_request_id", "market_orders", ["request_id"])
    op.execute("UPDATE requests SET status = 'submitted' WHERE status = 'open'")
    # Requests whose orders already hold leases follow them (active, or ended when none is).
    op.execute(
        "UPDATE requests SET status = 'ended' WHERE status IN ('submitted', 'quoted') AND id IN"
        " (SELECT o.request_id FROM orders o JOIN leases l ON l.order_id = o.id"
        "  WHERE o.request_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE requests SET status = 'active' WHERE id IN"
        " (SELECT o.request_id FROM orders o JOIN leases l ON l.order_id = o.id"
        "  WHERE o.request_id IS NOT NULL AND l.status = 'active')"
    )


def downgrade() -> None:
    op.execute("UPDATE requests SET status = 'open' WHERE status = 'submitted'")
    op.drop_index("ix_market_orders_request_id", table_name="market_orders")
    with op.batch_alter_table("market_orders") as batch:
        batch.drop_column("request_id")
