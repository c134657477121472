"""Deep links and QR codes: scans, and the scan a contact request came from

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30

link_scan: one opening of a deep link (who, on which channel, what it named, the event and booth where it was
printed, whether the user was registered, when a registration went back to it). contact_request.scan_id: the scan
at an event a request came from (the office's "memos from the fair floor").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_scan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=1), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("booth", sa.String(length=8), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("resumed_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_scan_user_id", "link_scan", ["user_id"])
    op.create_index("ix_link_scan_event_id", "link_scan", ["event_id"])
    with op.batch_alter_table("contact_request") as table:
        table.add_column(sa.Column("scan_id", sa.Integer(), nullable=True))
        table.create_index("ix_contact_request_scan_id", ["scan_id"])
        table.create_foreign_key("fk_contact_request_scan_id", "link_scan", ["scan_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("contact_request") as table:
        table.drop_constraint("fk_contact_request_scan_id", type_="foreignkey")
        table.drop_index("ix_contact_request_scan_id")
        table.drop_column("scan_id")
    op.drop_index("ix_link_scan_event_id", table_name="link_scan")
    op.drop_index("ix_link_scan_user_id", table_name="link_scan")
    op.drop_table("link_scan")
