"""Dashboard: one-time login links and web sessions

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

An admin's /dashboard link (dashboard_login: the token's hash, its expiry and use) opens a web session
(dashboard_session: the cookie's hash, its CSRF token, last request, end).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_login",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_dashboard_login_user_id", "dashboard_login", ["user_id"])
    op.create_table(
        "dashboard_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("seen_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_dashboard_session_user_id", "dashboard_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_session_user_id", table_name="dashboard_session")
    op.drop_table("dashboard_session")
    op.drop_index("ix_dashboard_login_user_id", table_name="dashboard_login")
    op.drop_table("dashboard_login")
