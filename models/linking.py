"""One person on several channels: a one-time code asked for on one channel and typed on another joins the two
users into one, so requests, memos, roles and notifications are shared.

A code is used once and lasts ``LINK_VALID``. Wrong codes are counted on the server per user: after
``MAX_GUESSES`` in ``GUESS_WINDOW`` the user's next codes are refused, right or wrong, until the oldest wrong one
is out of the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, UniqueConstraint, delete, exists, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.claims import WrongCode, code_digest, random_code
from models.db import UTCDateTime, utcnow
from models.errors import LinkRefused, Stale, StaleAction, TooManyAttempts
from models.people import BuyerProfile, Role, User, identities_of

LINK_VALID = timedelta(minutes=15)
MAX_GUESSES = 5
GUESS_WINDOW = timedelta(minutes=15)
ROLE_RANK = {Role.NONE.value: 0, Role.BUYER.value: 1, Role.PRODUCER.value: 2, Role.ADMIN.value: 3}


class LinkCode(SQLModel, table=True):
    __tablename__ = "link_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)  # who asked for it
    code_hash: str = Field(max_length=64, index=True)  # the code itself is never stored
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class LinkGuess(SQLModel, table=True):
    """A wrong link code typed by ``user_id``; kept for ``GUESS_WINDOW``."""

    __tablename__ = "link_guess"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TooManyGuesses(TooManyAttempts):
    """Too many wrong link codes lately; codes are taken again from ``retry_at``."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"too many wrong link codes; again from {retry_at.isoformat()}")
        self.retry_at = retry_at


@dataclass(frozen=True)
class PendingLink:
    """A valid code typed by ``user``: whose it is and on which channels they are."""

    code: LinkCode
    other: User
    channels: list[str]


async def issue_link_code(
    session: AsyncSession, user: User, now: datetime, make_code: Callable[[], str] = random_code
) -> str:
    """A new code for ``user``; their earlier unused codes stop working."""
    assert user.id is not None
    for old in (await session.exec(_open_codes(now).where(LinkCode.user_id == user.id))).all():
        old.expires_at = now
    code = make_code()
    session.add(LinkCode(user_id=user.id, code_hash=code_digest(code), created_at=now, expires_at=now + LINK_VALID))
    await session.flush()
    return code


async def find_link(session: AsyncSession, user: User, code: str, now: datetime) -> PendingLink:
    """The link ``code`` would make for ``user``; LinkRefused when it cannot be made. A wrong code is recorded
    (before raising: the caller keeps the transaction) and raises WrongCode with the tries left, the last one
    TooManyGuesses; while ``user`` has had ``MAX_GUESSES`` wrong codes in ``GUESS_WINDOW`` every code is refused
    unread with TooManyGuesses."""
    assert user.id is not None
    since = now - GUESS_WINDOW
    await session.exec(delete(LinkGuess).where(col(LinkGuess.user_id) == user.id, col(LinkGuess.at) <= since))
    recent = (await session.exec(
        select(LinkGuess.at).where(LinkGuess.user_id == user.id).order_by(col(LinkGuess.at))
    )).all()
    if len(recent) >= MAX_GUESSES:
        raise TooManyGuesses(recent[-MAX_GUESSES] + GUESS_WINDOW)
    found = (await session.exec(_open_codes(now).where(LinkCode.code_hash == code_digest(code)))).first()
    if found is None:
        session.add(LinkGuess(user_id=user.id, at=now))
        await session.flush()
        left = MAX_GUESSES - len(recent) - 1
        raise WrongCode(left) if left > 0 else TooManyGuesses((recent[0] if recent else now) + GUESS_WINDOW)
    return await _check(session, user, found)


async def complete_link(session: AsyncSession, user: User, code_id: int, now: datetime) -> PendingLink:
    """Use the code the user confirmed: the code's owner and all their identities become ``user``."""
    found = (await session.exec(_open_codes(now).where(LinkCode.id == code_id))).first()
    if found is None:
        raise StaleAction("the link code expired or was used", Stale.EXPIRED)
    link = await _check(session, user, found)
    found.used_at = now
    await merge_users(session, keep=user, absorb=link.other)
    return link


async def _check(session: AsyncSession, user: User, code: LinkCode) -> PendingLink:
    other = await session.get(User, code.user_id)
    if other is None or other.id == user.id:
        raise LinkRefused("already")
    theirs = await identities_of(session, code.user_id)
    mine = {identity.channel for identity in await identities_of(session, user.id or 0)}
    if mine & {identity.channel for identity in theirs}:
        raise LinkRefused("same_channel")
    if user.producer_id and other.producer_id and user.producer_id != other.producer_id:
        raise LinkRefused("two_producers")
    return PendingLink(code, other, sorted({identity.channel for identity in theirs}))


def _open_codes(now: datetime) -> SelectOfScalar[LinkCode]:
    return select(LinkCode).where(col(LinkCode.used_at).is_(None), col(LinkCode.expires_at) > now)


async def merge_users(session: AsyncSession, *, keep: User, absorb: User) -> None:
    """Fold ``absorb`` into ``keep``: every row that refers to ``absorb`` now refers to ``keep``; ``keep`` takes
    the higher role, the producer record, phone and name it lacks, and the fuller buyer profile."""
    assert keep.id is not None and absorb.id is not None
    await _merge_profiles(session, keep.id, absorb.id)
    if ROLE_RANK.get(absorb.role, 0) > ROLE_RANK.get(keep.role, 0):
        keep.role = absorb.role
    keep.producer_id = keep.producer_id or absorb.producer_id
    keep.phone = keep.phone or absorb.phone
    keep.display_name = keep.display_name or absorb.display_name
    keep.blocked = False
    for identity in await identities_of(session, absorb.id):
        identity.user_id = keep.id
    await session.flush()
    from models.schema import metadata  # every table, including those added after this module

    for table in metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name == User.__tablename__ and key.parent.table is table:
                await repoint(session, table, key.parent, keep.id, absorb.id)
    await session.delete(absorb)
    await session.flush()


async def repoint(session: AsyncSession, table: Table, column: Column[Any], keep: int, absorb: int) -> None:
    """``column`` = absorb becomes keep; where a unique key would then hold twice (both registered for the same
    event, both granted admin), the absorbed row is the duplicate and goes."""
    for unique in _unique_keys(table, column):
        twin = table.alias()
        same = [twin.c[other.name] == other for other in unique if other is not column]
        clash = exists().where(twin.c[column.name] == keep, *same)
        await session.exec(delete(table).where(column == absorb, clash))
    await session.exec(update(table).where(column == absorb).values({column.name: keep}))


def _unique_keys(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    keys = [list(table.primary_key.columns)] if column.primary_key else []
    keys += [list(c.columns) for c in table.constraints
             if isinstance(c, UniqueConstraint) and c.columns.contains_column(column)]
    keys += [list(i.columns) for i in table.indexes if i.unique and i.columns.contains_column(column)]
    return keys + ([[column]] if column.unique else [])


async def _merge_profiles(session: AsyncSession, keep_id: int, absorb_id: int) -> None:
    kept, absorbed = await session.get(BuyerProfile, keep_id), await session.get(BuyerProfile, absorb_id)
    if kept is None or absorbed is None:
        return  # at most one profile: the generic pass moves it
    if _fullness(absorbed) > _fullness(kept):
        kept.company, kept.kind, kept.regions = absorbed.company, absorbed.kind, list(absorbed.regions)
    await session.delete(absorbed)
    await session.flush()


def _fullness(profile: BuyerProfile) -> tuple[bool, int]:
    return bool(profile.company), len(profile.regions)

