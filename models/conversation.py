"""Per-chat conversation state and inbound de-duplication, stored so they survive restarts and replicas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow


class ChatState(SQLModel, table=True):
    """Where a chat is in a flow, its draft fields, and the numbered options last shown (no-button channels)."""

    __tablename__ = "chat_state"

    channel: str = Field(primary_key=True, max_length=20)
    chat_id: str = Field(primary_key=True, max_length=100)
    flow: str | None = Field(default=None, max_length=40)
    step: str | None = Field(default=None, max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    options: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    def enter(self, flow: str, step: str, **data: Any) -> None:
        self.flow, self.step, self.data = flow, step, dict(data)

    def goto(self, step: str, **data: Any) -> None:
        self.step = step
        self.data = {**self.data, **data}

    def leave(self) -> None:
        self.flow = self.step = None
        self.data = {}


async def load_state(session: AsyncSession, channel: str, chat_id: str) -> ChatState:
    state = await session.get(ChatState, (channel, chat_id))
    if state is None:
        state = ChatState(channel=channel, chat_id=chat_id)
        session.add(state)
    return state


class ProcessedUpdate(SQLModel, table=True):
    """Inbound updates already handled: platforms re-deliver, we answer once."""

    __tablename__ = "processed_update"

    channel: str = Field(primary_key=True, max_length=20)
    update_key: str = Field(primary_key=True, max_length=200)
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


async def first_delivery(session: AsyncSession, channel: str, update_key: str) -> bool:
    """Record an inbound update; False when it was seen before (then nothing must be done).

    One INSERT … ON CONFLICT DO NOTHING: concurrent redeliveries on several replicas cannot both win.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    values = {"channel": channel, "update_key": update_key, "received_at": utcnow()}
    connection = await session.connection()
    result = await connection.execute(insert(ProcessedUpdate).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)
