"""The Zalo Official Account's OAuth tokens, kept in the database.

Zalo's refresh token is single-use: each refresh returns a new pair and kills the old refresh token. The newest
pair must therefore be stored before it is used, survive restarts, and be shared by every replica, which must
not refresh at the same time (the row is locked during a refresh on PostgreSQL).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Column, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow


class ZaloToken(SQLModel, table=True):
    __tablename__ = "zalo_token"

    app_id: str = Field(primary_key=True, max_length=40)
    access_token: str = Field(default="", max_length=2000)
    refresh_token: str = Field(default="", max_length=2000)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    seed: str = Field(default="", max_length=64)  # hash of the configured refresh token the row started from
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # Zalo refused a message with query buttons: this OA's users get numbered options from then on
    numbered_options_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


def seed_of(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


async def seed_tokens(
    session: AsyncSession, app_id: str, refresh_token: str, access_token: str, now: datetime
) -> ZaloToken:
    """The stored tokens; the configured ones only on first start or when the operator configured new ones
    (a different refresh token than the row started from). Otherwise the database's rotated pair wins."""
    row = await lock_tokens(session, app_id)
    seed = seed_of(refresh_token) if refresh_token else ""
    if row is None:
        row = ZaloToken(app_id=app_id)
        session.add(row)
    elif row.seed == seed or not seed:
        return row
    row.access_token, row.refresh_token, row.seed = access_token, refresh_token, seed
    row.expires_at = None  # unknown: a configured access token is used until Zalo says it expired
    row.updated_at = now
    await session.flush()
    return row


async def lock_tokens(session: AsyncSession, app_id: str) -> ZaloToken | None:
    """The row, locked until the transaction ends (PostgreSQL; SQLite has one writer anyway)."""
    query = select(ZaloToken).where(ZaloToken.app_id == app_id).with_for_update()
    return (await session.exec(query.execution_options(populate_existing=True))).first()


def store_refreshed(row: ZaloToken, access_token: str, refresh_token: str, expires_at: datetime, now: datetime) -> None:
    row.access_token, row.refresh_token, row.expires_at, row.updated_at = access_token, refresh_token, expires_at, now


async def numbered_options_since(session: AsyncSession, app_id: str) -> datetime | None:
    """Since when this OA sends numbered options instead of buttons (None: it sends buttons)."""
    query = select(ZaloToken.numbered_options_since).where(ZaloToken.app_id == app_id)
    return (await session.exec(query)).first()


async def use_numbered_options(session: AsyncSession, app_id: str, now: datetime) -> None:
    """Remember (for every replica and restart) that this OA's messages carry numbered options, not buttons."""
    await session.exec(update(ZaloToken).where(  # type: ignore[call-overload]
        col(ZaloToken.app_id) == app_id, col(ZaloToken.numbered_options_since).is_(None)
    ).values(numbered_options_since=now))
