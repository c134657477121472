"""conversation, requests, memos, notifications, claim codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_state",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("flow", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id"),
    )
    op.create_table(
        "processed_update",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("update_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("received_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_key"),
    )
    op.create_table(
        "claim_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issued_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claim_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_code_code_hash"), ["code_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_code_producer_id"), ["producer_id"], unique=False)

    op.create_table(
        "contact_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("volume", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("season", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["buyer_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_request_buyer_user_id"), ["buyer_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_request_producer_id"), ["producer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_request_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_request_status"), ["status"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_delivered_at"), ["delivered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notification_user_id"), ["user_id"], unique=False)

    op.create_table(
        "memo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("buyer_user_id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("volume", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("season", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("buyer_company", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("buyer_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("buyer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("buyer_phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("producer_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("producer_address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("producer_phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("producer_email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("drafted_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("buyer_confirmed_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("producer_confirmed_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_at", models.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_user_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["contact_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("memo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memo_buyer_user_id"), ["buyer_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memo_producer_id"), ["producer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memo_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("memo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memo_status"))
        batch_op.drop_index(batch_op.f("ix_memo_producer_id"))
        batch_op.drop_index(batch_op.f("ix_memo_buyer_user_id"))

    op.drop_table("memo")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_user_id"))
        batch_op.drop_index(batch_op.f("ix_notification_delivered_at"))

    op.drop_table("notification")
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_request_status"))
        batch_op.drop_index(batch_op.f("ix_contact_request_product_id"))
        batch_op.drop_index(batch_op.f("ix_contact_request_producer_id"))
        batch_op.drop_index(batch_op.f("ix_contact_request_buyer_user_id"))

    op.drop_table("contact_request")
    with op.batch_alter_table("claim_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_code_producer_id"))
        batch_op.drop_index(batch_op.f("ix_claim_code_code_hash"))

    op.drop_table("claim_code")
    op.drop_table("processed_update")
    op.drop_table("chat_state")
