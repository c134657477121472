"""Per-chat conversation state, stored so that it survives restarts and works with several replicas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlmodel import Field, SQLModel, col, select
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
    """The chat's state, created if new (by whoever comes first: the others find it). On PostgreSQL its row stays
    locked until the transaction ends: one chat is handled by one process at a time, whatever replica an update
    reached (within a process the chat's lock, ``Services.chat_lock``, already serialises it)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect != "postgresql":
        state = await session.get(ChatState, (channel, chat_id))
        if state is None:
            state = ChatState(channel=channel, chat_id=chat_id)
            session.add(state)
        return state
    query = (select(ChatState).where(ChatState.channel == channel, ChatState.chat_id == chat_id)
             .with_for_update().execution_options(populate_existing=True))
    state = (await session.exec(query)).first()
    if state is None:
        values = {"channel": channel, "chat_id": chat_id, "data": {}, "options": [], "updated_at": utcnow()}
        await (await session.connection()).execute(
            postgres_insert(ChatState).values(**values).on_conflict_do_nothing())
        state = (await session.exec(query)).one()
    return state


async def show_options(
    session: AsyncSession, channel: str, chat_id: str, options: list[list[str]], shown_at: datetime
) -> bool:
    """Make ``options`` the chat's numbered options (a menu sent as numbered text after all), unless the chat moved on
    after ``shown_at`` (a later reply set its own). Whether they were set."""
    statement = update(ChatState).where(  # type: ignore[call-overload]
        col(ChatState.channel) == channel, col(ChatState.chat_id) == chat_id, col(ChatState.updated_at) <= shown_at
    ).values(options=options)
    return bool((await session.exec(statement)).rowcount)
