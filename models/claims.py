"""One-time codes with which a producer claims their catalogue record; issued by admins, used once."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.catalog import Producer
from models.db import UTCDateTime, utcnow
from models.errors import InvalidCode, NotAuthorised
from models.people import Role, User

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
CODE_LENGTH = 8
CODE_VALID = timedelta(days=14)
MAX_ATTEMPTS = 5


def random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_digest(code: str) -> str:
    """What is stored of a one-time code: a hash of its letters and digits, case and spacing ignored."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


class ClaimCode(SQLModel, table=True):
    __tablename__ = "claim_code"

    id: int | None = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    code_hash: str = Field(max_length=64, index=True)  # the code itself is never stored
    issued_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    used_by: int | None = Field(default=None, foreign_key="app_user.id")


async def issue_code(
    session: AsyncSession, admin: User, producer_id: int, now: datetime, make_code: Callable[[], str] = random_code
) -> str:
    """A new code for ``producer_id``; earlier unused codes for it stop working."""
    if not admin.is_admin:
        raise NotAuthorised("only admins issue claim codes")
    if await session.get(Producer, producer_id) is None:
        raise InvalidCode("no such producer")
    for old in (await session.exec(_open_codes(producer_id, now))).all():
        old.expires_at = now
    code = make_code()
    assert admin.id is not None
    claim = ClaimCode(
        producer_id=producer_id, code_hash=code_digest(code), issued_by=admin.id, expires_at=now + CODE_VALID
    )
    session.add(claim)
    await session.flush()
    return code


def _open_codes(producer_id: int, now: datetime) -> SelectOfScalar[ClaimCode]:
    return select(ClaimCode).where(
        ClaimCode.producer_id == producer_id, col(ClaimCode.used_at).is_(None), col(ClaimCode.expires_at) > now
    )


async def redeem_code(session: AsyncSession, user: User, producer_id: int, code: str, now: datetime) -> Producer:
    """Link ``user`` to the producer when ``code`` is a live code for it; InvalidCode otherwise."""
    claim = (await session.exec(_open_codes(producer_id, now).where(ClaimCode.code_hash == code_digest(code)))).first()
    producer = await session.get(Producer, producer_id)
    if claim is None or producer is None:
        raise InvalidCode("no live code matches")
    claim.used_at = now
    claim.used_by = user.id
    user.producer_id = producer_id
    if not user.is_admin:
        user.role = Role.PRODUCER.value
    await session.flush()
    return producer
