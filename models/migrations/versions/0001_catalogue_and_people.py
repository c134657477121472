"""catalogue and people

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "producer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("ward", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("province", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("old_province", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("zalo", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("telegram", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key", "province", name="uq_producer_name_province"),
    )
    with op.batch_alter_table("producer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_producer_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_producer_province"), ["province"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_producer_id"), ["producer_id"], unique=False)

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("group", sa.Integer(), nullable=False),
        sa.Column("subgroup", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("potential_5", sa.Boolean(), nullable=False),
        sa.Column("decision_no", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("capacity", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("season", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("photo", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["producer_id"],
            ["producer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("producer_id", "name_key", name="uq_product_producer_name"),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_group"), ["group"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_producer_id"), ["producer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_stars"), ["stars"], unique=False)

    op.create_table(
        "buyer_profile",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),
    )
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_user_id"))

    op.drop_table("identity")
    op.drop_table("buyer_profile")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_stars"))
        batch_op.drop_index(batch_op.f("ix_product_producer_id"))
        batch_op.drop_index(batch_op.f("ix_product_group"))

    op.drop_table("product")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_producer_id"))

    op.drop_table("app_user")
    with op.batch_alter_table("producer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_producer_province"))
        batch_op.drop_index(batch_op.f("ix_producer_name_key"))

    op.drop_table("producer")
    op.drop_table("catalog_version")
