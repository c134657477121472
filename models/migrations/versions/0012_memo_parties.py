"""The memo's parties in full: representative, position, address, tax code, e-mail; verified phones

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Buyers give them on their profile, producers on their record after claiming it (a producer's own address and
e-mail are kept apart from the catalogue's); memos keep both parties' as drafted. A phone shared through the
platform's button is marked verified.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTY = (("representative", 200), ("position", 120), ("address", 500), ("tax_code", 14), ("email", 200))
COLUMNS: dict[str, tuple[tuple[str, int], ...]] = {
    "buyer_profile": PARTY,
    "producer": (
        ("representative", 200),
        ("position", 120),
        ("tax_code", 14),
        ("given_address", 500),
        ("given_email", 200),
    ),
    "memo": (
        *((f"buyer_{name}", length) for name, length in PARTY),
        ("producer_representative", 200),
        ("producer_position", 120),
        ("producer_tax_code", 14),
    ),
}


def upgrade() -> None:
    for table_name, columns in COLUMNS.items():
        with op.batch_alter_table(table_name) as table:
            for name, length in columns:
                table.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
    with op.batch_alter_table("app_user") as table:
        table.add_column(sa.Column("phone_verified", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as table:
        table.drop_column("phone_verified")
    for table_name, columns in COLUMNS.items():
        with op.batch_alter_table(table_name) as table:
            for name, _length in reversed(columns):
                table.drop_column(name)
