"""Maintenance commands waiting for a receiver to come back: `waiting_commands`.

A technician's volume or restart for a receiver that is not online waits until the
receiver announces itself (`controller.maintenance`). It was held in memory only, so a
controller restart (a power cut at the commune office) forgot it; it is kept here now.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waiting_commands",
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_waiting_commands_receiver_id_receivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("receiver_id", "kind", name=op.f("pk_waiting_commands")),
    )


def downgrade() -> None:
    op.drop_table("waiting_commands")
