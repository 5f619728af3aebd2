"""Schedules fire: occurrences remember their schedule, approval, the scheduler's job rows.

- `occurrences` gain `schedule_id` and `planned_at` (the air time the schedule planned; an
  occurrence fired late plays later, `play_at`), `dispatch_at` (deliver from then on,
  instead of `delivery.lead_s` before air time: a schedule has its own lead) and `reason`
  (why a `missed` occurrence never went out). One occurrence per schedule and planned
  instant: a unique index, so a second fire of the same instant is a no-op in the store.
- `schedules` gain who made them and, where a commune asks for it, who approved them.
- `schedule_jobs`: the scheduler's persistent state per schedule: which revision its job
  was built from, its contents ready to play (text read aloud), and up to which planned
  air time every fire has been handled (the restart point).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("occurrences") as batch:
        batch.add_column(sa.Column("schedule_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dispatch_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.create_index(
            "ix_occurrences_schedule_id_planned_at", ["schedule_id", "planned_at"], unique=True
        )
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(
            sa.Column("created_by", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("approval", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "schedule_jobs",
        sa.Column("schedule_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.Column("contents", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_schedule_jobs")),
    )


def downgrade() -> None:
    op.drop_table("schedule_jobs")
    with op.batch_alter_table("schedules") as batch:
        for column in ("approved_at", "approved_by", "approval", "created_by"):
            batch.drop_column(column)
    with op.batch_alter_table("occurrences") as batch:
        batch.drop_index("ix_occurrences_schedule_id_planned_at")
        for column in ("reason", "dispatch_at", "planned_at", "schedule_id"):
            batch.drop_column(column)
