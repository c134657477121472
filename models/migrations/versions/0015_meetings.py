"""Meetings at events: the grid (days, hours, slot length, tables or booths), its slots, and booked meetings

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

A meeting holding its slot has active_slot = slot_id (NULL once declined, cancelled or moved): unique
(active_slot, buyer_user_id), (active_slot, producer_id) and (active_slot, table_id) keep every person and table in
one meeting at a time. A memo may be started from a meeting (memo.meeting_id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table('meeting_grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('days', TEXT(length=400), nullable=False),
    sa.Column('hours', TEXT(length=200), nullable=False),
    sa.Column('breaks', TEXT(length=200), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_table('meeting_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'starts_at', name='uq_meeting_slot_start')
    )
    op.create_index(op.f('ix_meeting_slot_event_id'), 'meeting_slot', ['event_id'], unique=False)
    op.create_table('meeting_table',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', TEXT(length=300), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=True),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'number', name='uq_meeting_table_number')
    )
    op.create_index(op.f('ix_meeting_table_event_id'), 'meeting_table', ['event_id'], unique=False)
    op.create_index(op.f('ix_meeting_table_producer_id'), 'meeting_table', ['producer_id'], unique=False)
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('active_slot', sa.Integer(), nullable=True),
    sa.Column('buyer_user_id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_as', TEXT(length=20), nullable=False),
    sa.Column('status', TEXT(length=20), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('reminded_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['buyer_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], ),
    sa.ForeignKeyConstraint(['replaces_id'], ['meeting.id'], ),
    sa.ForeignKeyConstraint(['requested_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['slot_id'], ['meeting_slot.id'], ),
    sa.ForeignKeyConstraint(['table_id'], ['meeting_table.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('active_slot', 'buyer_user_id', name='uq_meeting_slot_buyer'),
    sa.UniqueConstraint('active_slot', 'producer_id', name='uq_meeting_slot_producer'),
    sa.UniqueConstraint('active_slot', 'table_id', name='uq_meeting_slot_table')
    )
    op.create_index(op.f('ix_meeting_buyer_user_id'), 'meeting', ['buyer_user_id'], unique=False)
    op.create_index(op.f('ix_meeting_event_id'), 'meeting', ['event_id'], unique=False)
    op.create_index(op.f('ix_meeting_producer_id'), 'meeting', ['producer_id'], unique=False)
    op.create_index(op.f('ix_meeting_slot_id'), 'meeting', ['slot_id'], unique=False)
    op.create_index(op.f('ix_meeting_status'), 'meeting', ['status'], unique=False)

    with op.batch_alter_table("memo") as table:
        table.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        table.create_index("ix_memo_meeting_id", ["meeting_id"], unique=False)
        table.create_foreign_key("fk_memo_meeting_id", "meeting", ["meeting_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("memo") as table:
        table.drop_constraint("fk_memo_meeting_id", type_="foreignkey")
        table.drop_index("ix_memo_meeting_id")
        table.drop_column("meeting_id")
    for index in ("status", "slot_id", "producer_id", "event_id", "buyer_user_id"):
        op.drop_index(f"ix_meeting_{index}", table_name="meeting")
    op.drop_table("meeting")
    op.drop_index("ix_meeting_table_producer_id", table_name="meeting_table")
    op.drop_index("ix_meeting_table_event_id", table_name="meeting_table")
    op.drop_table("meeting_table")
    op.drop_index("ix_meeting_slot_event_id", table_name="meeting_slot")
    op.drop_table("meeting_slot")
    op.drop_table("meeting_grid")
