"""The receiver registry (groups, receivers, free-group membership), receiver health and
its transitions, and the receivers heard but not registered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["groups.id"],
            name=op.f("fk_groups_parent_id_groups"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_table(
        "receivers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("village_id", sa.String(length=40), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("speakers", sa.Integer(), nullable=False),
        sa.Column("installed", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("heartbeat_s", sa.Integer(), server_default="60", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["groups.id"], name=op.f("fk_receivers_village_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivers")),
    )
    op.create_table(
        "receiver_groups",
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_receiver_groups_receiver_id_receivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_receiver_groups_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("receiver_id", "group_id", name=op.f("pk_receiver_groups")),
    )
    op.create_table(
        "receiver_health",
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("link_state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(length=300), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("last_heard", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_s", sa.Integer(), nullable=True),
        sa.Column("firmware", sa.String(length=200), nullable=True),
        sa.Column("capabilities", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("telemetry", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("telemetry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_receiver_health_receiver_id_receivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("receiver_id", name=op.f("pk_receiver_health")),
    )
    op.create_table(
        "receiver_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=300), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_receiver_transitions_receiver_id_receivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_transitions")),
    )
    op.create_index(
        "ix_receiver_transitions_receiver_id_at", "receiver_transitions", ["receiver_id", "at"]
    )
    op.create_table(
        "unregistered_receivers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("firmware", sa.String(length=200), nullable=True),
        sa.Column("messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_topic", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unregistered_receivers")),
    )


def downgrade() -> None:
    op.drop_table("unregistered_receivers")
    op.drop_index("ix_receiver_transitions_receiver_id_at", table_name="receiver_transitions")
    op.drop_table("receiver_transitions")
    op.drop_table("receiver_health")
    op.drop_table("receiver_groups")
    op.drop_table("receivers")
    op.drop_table("groups")
