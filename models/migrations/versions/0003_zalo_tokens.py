"""Zalo OA tokens, identity link codes, identities that cannot be reached for now

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zalo_token",
        sa.Column("app_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("access_token", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("refresh_token", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id"),
    )
    op.create_table(
        "link_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_code_code_hash"), ["code_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_link_code_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unreachable_since", models.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_column("unreachable_since")

    with op.batch_alter_table("link_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_code_user_id"))
        batch_op.drop_index(batch_op.f("ix_link_code_code_hash"))

    op.drop_table("link_code")
    op.drop_table("zalo_token")
