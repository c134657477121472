"""Passwordless access to the office's web dashboard: one-time login links and the sessions they open.

A login token is 32 random bytes sent once in a chat; only its SHA-256 is stored, so every replica can redeem it
and a copy of the database opens nothing. A token is valid ``LINK_VALID`` and redeemed once. A session is keyed by
another random id (the cookie; stored hashed too), ends after ``IDLE`` without a request or at logout, and carries
the CSRF token its forms must send back. The user is read again on every request: an admin whose rights were
revoked is out at their next click."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import record
from models.db import UTCDateTime
from models.errors import NotAuthorised
from models.people import User

LINK_VALID = timedelta(minutes=10)
IDLE = timedelta(minutes=60)


class DashboardLogin(SQLModel, table=True):
    __tablename__ = "dashboard_login"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DashboardSession(SQLModel, table=True):
    __tablename__ = "dashboard_session"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf: str = Field(max_length=64)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Refusal(StrEnum):
    UNKNOWN = "unknown"  # tampered, cut or never issued
    EXPIRED = "expired"
    USED = "used"
    NOT_ADMIN = "not_admin"  # the admin lost their rights since the link was sent


class LoginRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    key: str  # the cookie's value: shown once, stored hashed
    session: DashboardSession
    user: User


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode(errors="replace")).hexdigest()


def issue_login(session: AsyncSession, admin: User, now: datetime) -> str:
    """A one-time login token for an admin (the link's secret part)."""
    if not admin.is_admin or admin.id is None:
        raise NotAuthorised("admins only")
    token = secrets.token_urlsafe(32)
    session.add(DashboardLogin(token_hash=_hash(token), user_id=admin.id, expires_at=now + LINK_VALID))
    record(session, admin.id, "dashboard.link", f"user:{admin.id}", now, admin.display_name)
    return token


async def redeem_login(session: AsyncSession, token: str, now: datetime) -> Opened:
    """Use a login token once and open a session; LoginRefused says why not (nothing is changed then)."""
    login = (await session.exec(select(DashboardLogin).where(DashboardLogin.token_hash == _hash(token)))).first()
    if login is None or len(token) > 100:
        raise LoginRefused(Refusal.UNKNOWN)
    if login.used_at is not None:
        raise LoginRefused(Refusal.USED)
    if login.expires_at <= now:
        raise LoginRefused(Refusal.EXPIRED)
    user = await session.get(User, login.user_id)
    if user is None or not user.is_admin:
        raise LoginRefused(Refusal.NOT_ADMIN)
    # Single use across replicas: only the request whose UPDATE finds it unused goes on.
    claimed = await session.exec(  # type: ignore[call-overload]
        update(DashboardLogin).where(col(DashboardLogin.id) == login.id, col(DashboardLogin.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise LoginRefused(Refusal.USED)
    key = secrets.token_urlsafe(32)
    opened = DashboardSession(key_hash=_hash(key), user_id=user.id or 0, csrf=secrets.token_urlsafe(32),
                              started_at=now, seen_at=now)
    session.add(opened)
    record(session, user.id, "dashboard.login", f"user:{user.id}", now, user.display_name)
    await session.flush()
    return Opened(key, opened, user)


async def current(session: AsyncSession, key: str, now: datetime) -> tuple[DashboardSession, User] | None:
    """The live session a cookie names and its admin (its idle clock restarted); None when there is none."""
    if not key or len(key) > 100:
        return None
    found = (await session.exec(select(DashboardSession).where(DashboardSession.key_hash == _hash(key)))).first()
    if found is None or found.ended_at is not None or found.seen_at + IDLE <= now:
        return None
    user = await session.get(User, found.user_id)
    if user is None or not user.is_admin:
        return None
    found.seen_at = now
    return found, user


def csrf_ok(dashboard: DashboardSession, token: str) -> bool:
    return hmac.compare_digest(dashboard.csrf.encode(), token.encode(errors="replace"))


def end(session: AsyncSession, dashboard: DashboardSession, user: User, now: datetime) -> None:
    dashboard.ended_at = now
    record(session, user.id, "dashboard.logout", f"user:{user.id}", now, user.display_name)
