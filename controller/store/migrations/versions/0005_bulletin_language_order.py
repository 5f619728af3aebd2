"""The order of a bulletin's languages: the first is its default.

A bulletin's contents were kept per language with no order, and read back sorted by
language code, so a bulletin sent in `tay, hmn` came back as `hmn, tay` and its default
(the content receivers fall back to when neither their language nor Vietnamese is
there) was lost. `position` keeps the order they were given in; rows stored before this
revision all get 0 and keep the old, alphabetical order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulletin_contents") as batch:
        batch.add_column(
            sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("bulletin_contents") as batch:
        batch.drop_column("position")
