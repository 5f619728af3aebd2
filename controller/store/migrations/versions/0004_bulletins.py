"""Bulletins: contents per language, targets, occurrences, deliveries per receiver, and
the log of every receipt and controller move on a delivery.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("chime", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletins")),
    )
    op.create_table(
        "bulletin_contents",
        sa.Column("bulletin_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("content_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["bulletins.id"],
            name=op.f("fk_bulletin_contents_bulletin_id_bulletins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["audio_contents.id"],
            name=op.f("fk_bulletin_contents_content_id_audio_contents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("bulletin_id", "language", name=op.f("pk_bulletin_contents")),
    )
    op.create_index(op.f("ix_bulletin_contents_content_id"), "bulletin_contents", ["content_id"])
    op.create_table(
        "bulletin_targets",
        sa.Column("bulletin_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["bulletins.id"],
            name=op.f("fk_bulletin_targets_bulletin_id_bulletins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "bulletin_id", "kind", "target_id", name=op.f("pk_bulletin_targets")
        ),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bulletin_id", sa.String(length=32), nullable=False),
        sa.Column("play_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["bulletins.id"],
            name=op.f("fk_occurrences_bulletin_id_bulletins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
    )
    op.create_index(op.f("ix_occurrences_bulletin_id"), "occurrences", ["bulletin_id"])
    op.create_index("ix_occurrences_state_play_at", "occurrences", ["state", "play_at"])
    op.create_table(
        "deliveries",
        sa.Column("occurrence_id", sa.String(length=32), nullable=False),
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("content_id", sa.String(length=64), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("command_id", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_offset_ms", sa.Integer(), nullable=True),
        sa.Column("played_ms", sa.BigInteger(), nullable=True),
        sa.Column("played_content", sa.String(length=64), nullable=True),
        sa.Column("level_db", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["occurrences.id"],
            name=op.f("fk_deliveries_occurrence_id_occurrences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["receivers.id"],
            name=op.f("fk_deliveries_receiver_id_receivers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("occurrence_id", "receiver_id", name=op.f("pk_deliveries")),
    )
    op.create_index("ix_deliveries_receiver_id_state", "deliveries", ["receiver_id", "state"])
    op.create_table(
        "delivery_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurrence_id", sa.String(length=32), nullable=True),
        sa.Column("receiver_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("command_id", sa.String(length=32), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
    )
    op.create_index(op.f("ix_delivery_events_occurrence_id"), "delivery_events", ["occurrence_id"])
    op.create_index(op.f("ix_delivery_events_received_at"), "delivery_events", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_events_received_at"), table_name="delivery_events")
    op.drop_index(op.f("ix_delivery_events_occurrence_id"), table_name="delivery_events")
    op.drop_table("delivery_events")
    op.drop_index("ix_deliveries_receiver_id_state", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_occurrences_state_play_at", table_name="occurrences")
    op.drop_index(op.f("ix_occurrences_bulletin_id"), table_name="occurrences")
    op.drop_table("occurrences")
    op.drop_table("bulletin_targets")
    op.drop_index(op.f("ix_bulletin_contents_content_id"), table_name="bulletin_contents")
    op.drop_table("bulletin_contents")
    op.drop_table("bulletins")
