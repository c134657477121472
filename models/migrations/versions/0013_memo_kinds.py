"""Memo kinds: framework (organisation ↔ organisation), buyer ↔ province, buyer ↔ producer; numbers per kind and
year; the office confirming for a producer not on the bot

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

Existing memos are buyer ↔ producer memos and keep their numbers (id/year/BBGN-OCOP): their sequence is their id,
their year the year (Vietnam time) they were made. A framework memo has no buyer, producer, product or request, a
province memo no producer, product or request, so those columns take NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.clock import TIMEZONE
from models.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("memo") as table:
        table.add_column(sa.Column("kind", TEXT(length=20), nullable=False, server_default="producer"))
        table.add_column(sa.Column("year", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("province", TEXT(length=100), nullable=False, server_default=""))
        for name, length in (("org_a", 300), ("org_a_representative", 200), ("org_b", 300),
                             ("org_b_representative", 200)):
            table.add_column(sa.Column(name, TEXT(length=length), nullable=False, server_default=""))
        table.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        table.add_column(sa.Column("producer_confirmed_by", sa.Integer(), nullable=True))
        table.create_foreign_key("fk_memo_created_by", "app_user", ["created_by"], ["id"])
        table.create_foreign_key("fk_memo_producer_confirmed_by", "app_user", ["producer_confirmed_by"], ["id"])
        for column in ("request_id", "buyer_user_id", "producer_id", "product_id"):
            table.alter_column(column, existing_type=sa.Integer(), nullable=True)
        table.create_index("ix_memo_kind", ["kind"], unique=False)

    memo = sa.table("memo", sa.column("id", sa.Integer()), sa.column("created_at", UTCDateTime()),
                    sa.column("year", sa.Integer()), sa.column("seq", sa.Integer()))
    connection = op.get_bind()
    for memo_id, created_at in connection.execute(sa.select(memo.c.id, memo.c.created_at)).all():
        year = created_at.astimezone(TIMEZONE).year
        connection.execute(sa.update(memo).where(memo.c.id == memo_id).values(year=year, seq=memo_id))

    with op.batch_alter_table("memo") as table:
        table.create_unique_constraint("uq_memo_number", ["kind", "year", "seq"])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM memo WHERE kind <> 'producer'"))
    with op.batch_alter_table("memo") as table:
        table.drop_constraint("uq_memo_number", type_="unique")
        table.drop_index("ix_memo_kind")
        for column in ("request_id", "buyer_user_id", "producer_id", "product_id"):
            table.alter_column(column, existing_type=sa.Integer(), nullable=False)
        table.drop_constraint("fk_memo_producer_confirmed_by", type_="foreignkey")
        table.drop_constraint("fk_memo_created_by", type_="foreignkey")
        for column in ("producer_confirmed_by", "created_by", "org_b_representative", "org_b",
                       "org_a_representative", "org_a", "province", "seq", "year", "kind"):
            table.drop_column(column)
