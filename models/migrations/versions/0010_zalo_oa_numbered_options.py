"""Zalo OA: remember that the OA refused messages with buttons

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

When Zalo refuses a consultation message with query buttons, every replica sends numbered options to that OA's
users from then on (zalo_token.numbered_options_since).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zalo_token") as table:
        table.add_column(sa.Column("numbered_options_since", models.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zalo_token") as table:
        table.drop_column("numbered_options_since")
