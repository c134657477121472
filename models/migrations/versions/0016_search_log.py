"""Search log: registered users' recent searches, for partner suggestions at events

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

search_log keeps each registered buyer's or producer's newest searches (words, places, groups, least stars), at
most 20 per user (older ones are deleted as new ones come), read by models/matchmaking.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=120), nullable=False),
        sa.Column("words", sa.String(length=120), nullable=False),
        sa.Column("places", sa.String(length=120), nullable=False),
        sa.Column("groups", sa.String(length=20), nullable=False),
        sa.Column("min_stars", sa.Integer(), nullable=True),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_log_user_id", "search_log", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_search_log_user_id", table_name="search_log")
    op.drop_table("search_log")
