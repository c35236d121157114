"""gateway: replica endpoints, per-minute outcomes per lease, SLO credits, probe challenges;
keys' default region

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lease_id", sa.Integer(), sa.ForeignKey("leases.id"), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("emulated", sa.Boolean(), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id", "url", name="uq_replicas_lease_url"),
    )
    op.create_index("ix_replicas_lease_id", "replicas", ["lease_id"])
    op.create_table(
        "lease_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("replica_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "calls",
                "failed",
                "streamed",
                "ok",
                "ttft_ok",
                "tpot_ok",
                "input_tokens",
                "output_tokens",
            )
        ),
        *(
            sa.Column(name, sa.Float(), nullable=False)
            for name in ("ttft_ms_sum", "tpot_ms_sum", "e2e_ms_sum", "ttft_ms_max")
        ),
        sa.Column("emulated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id", "replica_id", "region", "minute", name="uq_lease_minutes"),
    )
    op.create_index("ix_lease_minutes_lease_minute", "lease_minutes", ["lease_id", "minute"])
    op.create_table(
        "slo_credits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("attainment", sa.Float(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("rent_fen", sa.Integer(), nullable=False),
        sa.Column("credit_fen", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id", "hour", name="uq_slo_credits_lease_hour"),
    )
    op.create_index("ix_slo_credits_lease_id", "slo_credits", ["lease_id"])
    op.create_table(
        "probe_challenges",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seller", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_probe_challenges_seller", "probe_challenges", ["seller"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("region", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("region")
    op.drop_table("probe_challenges")
    op.drop_table("slo_credits")
    op.drop_table("lease_minutes")
    op.drop_table("replicas")
