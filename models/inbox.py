"""The inbox: every update a platform sends us is stored here before the platform is told we have it.

A webhook answers 200, and a poll asks for the next updates, only once the update's row is committed; the row is
marked handled in the same transaction as the update's effects and replies (models/outbox.py). A crash at any point
leaves either the row to handle again or the outbox to send, on this process after a restart or on another replica.
The unique (channel, update key) makes a redelivery a no-op; handled rows are kept ``KEEP`` long for that, then
deleted by the housekeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, Column, Index, UniqueConstraint, bindparam, delete, func, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import Database, UTCDateTime, utcnow

MAX_KEY = 200
MAX_CHAT = 100
KEEP = timedelta(days=7)  # a handled update is remembered this long (platforms redeliver within a day)


class InboundUpdate(SQLModel, table=True):
    __tablename__ = "inbound_update"
    __table_args__ = (
        UniqueConstraint("channel", "update_key", name="uq_inbound_update_key"),
        Index("ix_inbound_update_waiting", "channel", "handled_at", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    update_key: str = Field(max_length=MAX_KEY)  # the platform's id of this delivery (Telegram update_id, …)
    chat_id: str = Field(max_length=MAX_CHAT)  # updates of one chat are handled in the order they came
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # as received
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    attempts: int = 0  # handlings that failed before committing (the database was unreachable, a bug)
    last_error: str = Field(default="", max_length=500)


@dataclass(frozen=True)
class Received:
    """One update as a channel hands it to the inbox."""

    key: str
    chat_id: str
    payload: dict[str, Any]


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgres_insert if dialect == "postgresql" else sqlite_insert


class Waiting(NamedTuple):
    """An update to handle (read with a plain query: this is the hot path)."""

    id: int
    update_key: str
    payload: dict[str, Any]
    attempts: int
    chat_id: str = ""


async def receive(db: Database, channel: str, updates: Sequence[Received], now: datetime) -> list[Waiting]:
    """Store updates (one transaction); those seen before are left as they are. Returns the new ones."""
    if not updates:
        return []
    async with db.transaction() as session:
        rows = list({
            u.key[:MAX_KEY]: {"channel": channel, "update_key": u.key[:MAX_KEY], "chat_id": u.chat_id[:MAX_CHAT],
                              "payload": u.payload, "received_at": now, "attempts": 0, "last_error": ""}
            for u in updates
        }.values())
        statement = (_insert(session)(InboundUpdate).values(rows).on_conflict_do_nothing()
                     .returning(InboundUpdate.id, InboundUpdate.update_key, InboundUpdate.chat_id))
        inserted = await (await session.connection()).execute(statement)
        ids = {key: update_id for update_id, key, _chat in inserted}
    new = {}
    for u in updates:
        key = u.key[:MAX_KEY]
        if key in ids and key not in new:  # a batch may hold one update twice (delivered twice at once)
            new[key] = Waiting(ids[key], key, u.payload, 0, u.chat_id[:MAX_CHAT])
    return sorted(new.values())


async def seen_before(session: AsyncSession, channel: str, key: str, now: datetime) -> bool:
    """For updates handled as they come (no stored payload): record the key, handled; True when it was known."""
    values = {"channel": channel, "update_key": key[:MAX_KEY], "chat_id": "", "payload": {}, "received_at": now,
              "handled_at": now, "attempts": 0, "last_error": ""}
    statement = _insert(session)(InboundUpdate).values(**values).on_conflict_do_nothing()
    result = await (await session.connection()).execute(statement)
    return not result.rowcount


async def waiting_chats(session: AsyncSession, channel: str, limit: int = 500) -> list[str]:
    """Chats with updates not handled yet, the chat whose oldest waiting update came first first."""
    query = (
        select(InboundUpdate.chat_id, func.min(InboundUpdate.id).label("first"))
        .where(InboundUpdate.channel == channel, col(InboundUpdate.handled_at).is_(None))
        .group_by(col(InboundUpdate.chat_id))
        .order_by(func.min(InboundUpdate.id))
        .limit(limit)
    )
    return [chat for chat, _first in (await session.exec(query)).all()]


def _waiting(channel: str, chat_id: str) -> Any:
    return ((InboundUpdate.channel == channel) & (InboundUpdate.chat_id == chat_id)
            & col(InboundUpdate.handled_at).is_(None))


async def next_update(session: AsyncSession, channel: str, chat_id: str) -> Waiting | None:
    """The chat's oldest update not handled yet."""
    query = (
        select(InboundUpdate.id, InboundUpdate.update_key, InboundUpdate.payload, InboundUpdate.attempts)
        .where(_waiting(channel, chat_id)).order_by(col(InboundUpdate.id)).limit(1)
    )
    row = (await session.exec(query)).first()
    return Waiting(*row) if row is not None else None


# The statements of the hot path, built once (Core: no ORM bookkeeping per update).
_UPDATES = InboundUpdate.__table__  # type: ignore[attr-defined]
_NEXT_ID = (
    core_select(_UPDATES.c.id)
    .where(_UPDATES.c.channel == bindparam("channel_"), _UPDATES.c.chat_id == bindparam("chat"),
           _UPDATES.c.handled_at.is_(None))
    .order_by(_UPDATES.c.id)
    .limit(1)
)
_SET_HANDLED = update(_UPDATES).where(_UPDATES.c.id == bindparam("update")).values(handled_at=bindparam("at"))


async def next_update_id(session: AsyncSession, channel: str, chat_id: str) -> int | None:
    result = await (await session.connection()).execute(_NEXT_ID, {"channel_": channel, "chat": chat_id})
    return result.scalar()


async def set_handled(session: AsyncSession, update_id: int, now: datetime) -> None:
    await (await session.connection()).execute(_SET_HANDLED, {"update": update_id, "at": now})


async def mark_handled(db: Database, update_id: int, now: datetime) -> None:
    """An update that needs no answer (the bot's own messages, events we do not use)."""
    async with db.transaction() as session:
        await set_handled(session, update_id, now)


async def record_failure(db: Database, update_id: int, error: str, *, give_up: bool, now: datetime) -> None:
    """A handling failed before it committed: count it; ``give_up`` marks the update handled (a poison update must
    not hold its chat for ever; the error stays on the row)."""
    values: dict[str, Any] = {"attempts": InboundUpdate.attempts + 1, "last_error": error[:500]}
    if give_up:
        values["handled_at"] = now
    async with db.transaction() as session:
        await session.exec(update(InboundUpdate).where(col(InboundUpdate.id) == update_id).values(**values))  # type: ignore[call-overload]


async def forget_handled(session: AsyncSession, now: datetime, keep: timedelta = KEEP) -> int:
    """Delete the updates handled more than ``keep`` ago; how many."""
    statement = delete(InboundUpdate).where(col(InboundUpdate.handled_at) < now - keep)
    result = await session.exec(statement)  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def backlog(session: AsyncSession) -> int:
    """Updates stored and not handled yet, all channels (for /healthz and the logs)."""
    query = select(func.count()).select_from(InboundUpdate).where(col(InboundUpdate.handled_at).is_(None))
    return int((await session.exec(query)).one())
