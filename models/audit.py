"""The audit log: who changed what as an admin, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow

MAX_DETAIL = 1000


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)  # None: the system
    action: str = Field(max_length=40, index=True)  # "admin.grant", "product.stars", "event.cancel", …
    subject: str = Field(default="", max_length=200)  # what was acted on: "user:12", "product:7", "event:3"
    detail: str = Field(default="", max_length=MAX_DETAIL)


def record(
    session: AsyncSession, actor_id: int | None, action: str, subject: str, now: datetime, detail: str = ""
) -> AuditLog:
    entry = AuditLog(at=now, actor_id=actor_id, action=action, subject=subject[:200], detail=detail[:MAX_DETAIL])
    session.add(entry)
    return entry


async def recent(session: AsyncSession, limit: int = 20, *, action: str | None = None) -> list[AuditLog]:
    """The newest entries first, optionally of one action."""
    query = select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)
    if action is not None:
        query = query.where(AuditLog.action == action)
    return list((await session.exec(query)).all())
