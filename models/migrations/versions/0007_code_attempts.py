"""attempts counted per claim and link code

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "link_guess",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_guess", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_guess_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_guess", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_guess_user_id"))
    op.drop_table("link_guess")
    with op.batch_alter_table("claim_code", schema=None) as batch_op:
        batch_op.drop_column("failed_attempts")
