"""Receivers' health sampled over time: `receiver_samples`, for the dashboard's charts.

One row per receiver at most every few minutes (`controller.ingest.receivers` decides
how often): the health state and the signal and battery of the latest telemetry. Rows
older than 30 days are pruned (`controller.store.samples.prune_samples`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receiver_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rsrp_dbm", sa.Integer(), nullable=True),
        sa.Column("rssi_dbm", sa.Integer(), nullable=True),
        sa.Column("battery_v", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_receiver_samples_receiver_id_receivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_samples")),
    )
    op.create_index("ix_receiver_samples_receiver_id_at", "receiver_samples", ["receiver_id", "at"])
    op.create_index("ix_receiver_samples_at", "receiver_samples", ["at"])


def downgrade() -> None:
    op.drop_index("ix_receiver_samples_at", table_name="receiver_samples")
    op.drop_index("ix_receiver_samples_receiver_id_at", table_name="receiver_samples")
    op.drop_table("receiver_samples")
