"""One-time codes with which a producer claims their catalogue record; issued by admins, used once.

Wrong codes are counted on the server, on the codes themselves: a wrong code typed for a producer counts against
every open code of that producer, whoever typed it and however often they started again; after ``MAX_ATTEMPTS``
wrong ones the codes are void and the office issues a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Column, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.catalog import Producer, Product
from models.db import UTCDateTime, utcnow
from models.errors import InvalidCode, NotAuthorised, TooManyAttempts
from models.people import Role, User
from models.text import normalize

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
CODE_LENGTH = 8
CODE_VALID = timedelta(days=14)
MAX_ATTEMPTS = 5
MATCH_THRESHOLD = 80  # below this similarity (0-100) a producer's name is not what the office typed
CLOSE_MATCH = 5  # candidates this close to the best are all offered, the office picks one
MAX_CANDIDATES = 5
# Legal forms (as normalize() spells them) say nothing about which producer is meant: "HTX Chè X" must not match
# every "HTX ..." better than "Chè X".
_LEGAL_FORMS = re.compile(
    r"\b(cong ty (co phan|trach nhiem huu han)|cong ty|hop tac xa|to hop tac|co so|ho kinh doanh"
    r"|doanh nghiep tu nhan|dntn)\b"
)


def random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class WrongCode(InvalidCode):
    """A code that matches no live code; ``left`` wrong tries remain before refusal (None: no code to try)."""

    def __init__(self, left: int | None) -> None:
        super().__init__("no live code matches" if left is None else f"no live code matches; {left} tries left")
        self.left = left


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
    failed_attempts: int = Field(default=0)  # wrong codes typed for its producer while it was open


@dataclass(frozen=True)
class Candidate:
    """A producer the office may have meant, with what identifies it on the phone: its province, its products."""

    producer: Producer
    products: int


def _distinctive(key: str) -> str:
    return " ".join(_LEGAL_FORMS.sub(" ", key).split()) or key


async def claim_candidates(session: AsyncSession, text: str) -> list[Candidate]:
    """The producers ``text`` names: the one whose name it is exactly, else those whose name matches it above
    ``MATCH_THRESHOLD`` and within ``CLOSE_MATCH`` of the best (legal forms, accents, case and word order left
    out); none when nothing is similar enough."""
    key = normalize(text)
    if not key:
        return []
    rows = (await session.exec(select(Producer.id, Producer.name_key))).all()
    exact = [pid for pid, name in rows if name == key]
    if len(exact) == 1:
        ids = exact
    else:
        names = {pid: _distinctive(name) for pid, name in rows}
        scored = process.extract(_distinctive(key), names, scorer=fuzz.token_set_ratio, limit=MAX_CANDIDATES,
                                 score_cutoff=MATCH_THRESHOLD)
        best = max((score for _name, score, _pid in scored), default=0.0)
        close = sorted((-score, name, pid) for name, score, pid in scored if score >= best - CLOSE_MATCH)
        ids = [pid for _score, _name, pid in close]  # best first; equally good ones by name
    return [candidate for pid in ids if (candidate := await claim_candidate(session, pid)) is not None]


async def claim_candidate(session: AsyncSession, producer_id: int) -> Candidate | None:
    producer = await session.get(Producer, producer_id)
    if producer is None:
        return None
    visible = (Product.producer_id == producer_id, col(Product.hidden).is_(False))
    count = await session.exec(select(func.count()).select_from(Product).where(*visible))
    return Candidate(producer, int(count.one()))


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


def _still_live(now: datetime) -> tuple[Any, ...]:
    return (
        col(ClaimCode.used_at).is_(None),
        col(ClaimCode.expires_at) > now,
        col(ClaimCode.failed_attempts) < MAX_ATTEMPTS,
    )


async def _count_wrong_try(session: AsyncSession, ids: list[int | None]) -> int:
    """One more wrong try on each of these codes, counted in the database (concurrent tries all count); the tries
    left."""
    await session.exec(
        update(ClaimCode)
        .where(col(ClaimCode.id).in_(ids), col(ClaimCode.failed_attempts) < MAX_ATTEMPTS)
        .values(failed_attempts=ClaimCode.failed_attempts + 1)
    )
    worst = (await session.exec(select(func.max(ClaimCode.failed_attempts)).where(col(ClaimCode.id).in_(ids)))).one()
    return MAX_ATTEMPTS - int(worst or 0)


async def redeem_code(session: AsyncSession, user: User, producer_id: int, code: str, now: datetime) -> Producer:
    """Link ``user`` to the producer when ``code`` is a live code for it.

    Otherwise WrongCode, the wrong try counted against every open code of the producer (written before raising:
    the caller keeps the transaction), or TooManyAttempts once the codes are void, whatever is typed.
    """
    producer = await session.get(Producer, producer_id)
    codes = list((await session.exec(_open_codes(producer_id, now))).all()) if producer else []
    live = [row for row in codes if row.failed_attempts < MAX_ATTEMPTS]
    if codes and not live:
        raise TooManyAttempts("the producer's codes are void")
    if producer is None or not live:
        raise WrongCode(None)
    digest = code_digest(code)
    claim = next((row for row in live if hmac.compare_digest(row.code_hash, digest)), None)
    if claim is None:
        left = await _count_wrong_try(session, [row.id for row in live])
        raise WrongCode(left) if left > 0 else TooManyAttempts("the producer's codes are now void")
    used = await session.exec(  # guarded: a try counted or a use made meanwhile by another update wins
        update(ClaimCode)
        .where(col(ClaimCode.id) == claim.id, *_still_live(now))
        .values(used_at=now, used_by=user.id)
    )
    if used.rowcount != 1:
        raise WrongCode(None)  # another update used it, or made it void, since it was read
    user.producer_id = producer_id
    if not user.is_admin:
        user.role = Role.PRODUCER.value
    await session.flush()
    return producer
