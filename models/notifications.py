"""Notifications: messages to other users, written in the same transaction as the change they report.

Each channel takes those of the users it can reach into its outbox (handlers/delivery.py), rendered for their chat;
nothing is lost when a process dies between the change and the send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow
from models.people import Identity, User


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # a serialised handlers.messages.Reply
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # when it went to the outbox of one of the user's chats; None while it waits (for them to be reachable again)
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))
    last_error: str = Field(default="", max_length=500)  # why it waits ("held: …")


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
