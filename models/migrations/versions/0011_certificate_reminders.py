"""Certificate reminders: which producers were reminded that their OCOP certificate is ending

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

One row per product, certificate (decision date) and reminder (90 or 30 days before its last day), inserted in the
transaction that queues the reminder, so restarts and replicas do not send it twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("sent_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "decision_date", "days", name="uq_certificate_reminder"),
    )
    with op.batch_alter_table("certificate_reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_reminder_product_id"), ["product_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("certificate_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_reminder_product_id"))
    op.drop_table("certificate_reminder")
