"""The notification outbox: messages to other users, written in the same transaction as the change they report.

A channel runtime drains the rows of the users it can reach; nothing is lost when a process dies between the
change and the send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow
from models.people import Identity, User

MAX_ATTEMPTS = 5


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # a serialised handlers.messages.Reply
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)


def enqueue(session: AsyncSession, user_id: int, payload: dict[str, Any]) -> Notification:
    notification = Notification(user_id=user_id, payload=payload)
    session.add(notification)
    return notification


async def pending(
    session: AsyncSession,
    channel: str,
    *,
    external_id: str | None = None,
    notification_id: int | None = None,
    limit: int = 100,
) -> list[tuple[Notification, Identity, User]]:
    """Undelivered notifications for users reachable on ``channel`` (optionally one identity or one row), oldest
    first; on PostgreSQL the rows are locked, skipping those another replica is sending."""
    query = (
        select(Notification, Identity, User)
        .join(User, col(User.id) == Notification.user_id)
        .join(Identity, col(Identity.user_id) == Notification.user_id)
        .where(
            col(Notification.delivered_at).is_(None),
            Notification.attempts < MAX_ATTEMPTS,
            Identity.channel == channel,
            col(Identity.unreachable_since).is_(None),  # held for them until they write again
            col(User.blocked).is_(False),
        )
        .order_by(col(Notification.id))
        .limit(limit)
    )
    if external_id is not None:
        query = query.where(Identity.external_id == external_id)
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Notification, skip_locked=True)  # replicas share the outbox
    return list((await session.exec(query)).all())


def mark_delivered(notification: Notification, now: datetime) -> None:
    notification.delivered_at = now


def mark_failed(notification: Notification, error: str) -> None:
    notification.attempts += 1
    notification.last_error = error[:500]
