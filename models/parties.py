"""The parties of a memo: who represents a buyer or a producer, in what position, where, under which tax code
(MST) and e-mail; checked as people type them, kept on the buyer's profile or the producer's record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import Producer
from models.memos import Memo, MemoStatus, fill_buyer, fill_producer
from models.people import BuyerProfile, User

# The fields asked for, in the order asked; each is a column of BuyerProfile and of Producer (see ``_column``).
FIELDS = ("representative", "position", "address", "tax_code", "email")
LIMITS = {"representative": 200, "position": 120, "address": 500, "tax_code": 14, "email": 200}

# Vietnamese tax codes (mã số thuế): 10 digits, or 13 for a dependent unit (the parent's 10, "-", 3 digits).
# The 10th digit checks the first nine: weights 31, 29, 23, 19, 17, 13, 7, 5, 3; check = 10 - (sum mod 11), and no
# code is issued where that is 10. Source: the General Department of Taxation's MST structure (Quyết định
# 75/1998/QĐ-TCT); checked against published codes (Vinamilk 0300588569, Viettel 0100109106).
_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_TAX_CODE = re.compile(r"(\d{10})(?:-?(\d{3}))?")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # one part of a domain name
_EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@(?:{_LABEL}\.)+[A-Za-z]{{2,}}")


def tax_code(text: str) -> str | None:
    """The code as written on documents ("0300588569" or "0300588569-001"), or None when it is no valid MST."""
    found = _TAX_CODE.fullmatch("".join(text.split()).replace(".", ""))
    if found is None:
        return None
    base, branch = found.groups()
    check = 10 - sum(int(digit) * weight for digit, weight in zip(base, _WEIGHTS, strict=False)) % 11
    if check == 10 or int(base[9]) != check:
        return None
    return f"{base}-{branch}" if branch else base


def email(text: str) -> str | None:
    """The address, or None when it cannot be one (no spaces, one @, a domain with a dot)."""
    value = text.strip()
    if len(value) > LIMITS["email"] or not _EMAIL.fullmatch(value):
        return None
    local, _, domain = value.rpartition("@")
    if ".." in value or local.startswith(".") or local.endswith("."):
        return None
    return f"{local}@{domain.lower()}"


def _column(field: str, record: BuyerProfile | Producer) -> str:
    """The attribute holding ``field``: a producer's own address and e-mail are kept apart from the catalogue's
    (which an import overwrites)."""
    if isinstance(record, Producer) and field in ("address", "email"):
        return f"given_{field}"
    return field


def details_of(record: BuyerProfile | Producer) -> dict[str, str]:
    return {field: getattr(record, _column(field, record)) or "" for field in FIELDS}


def set_detail(record: BuyerProfile | Producer, field: str, value: str) -> None:
    assert field in FIELDS, field
    setattr(record, _column(field, record), value[: LIMITS[field]])


async def record_of(session: AsyncSession, user: User) -> BuyerProfile | Producer | None:
    """Where a user's party details live: their producer's record, or their buyer profile."""
    if user.is_producer:
        return await session.get(Producer, user.producer_id)
    if user.is_buyer and user.id is not None:
        return await session.get(BuyerProfile, user.id) or BuyerProfile(user_id=user.id)
    return None


async def refresh_memos(session: AsyncSession, record: BuyerProfile | Producer) -> None:
    """Memos not yet confirmed follow the party's details; a confirmed or signed memo keeps what both confirmed."""
    open_ = (MemoStatus.INTEREST.value, MemoStatus.DRAFT.value)
    if isinstance(record, BuyerProfile):
        query = select(Memo).where(Memo.buyer_user_id == record.user_id, col(Memo.status).in_(open_))
        for memo in (await session.exec(query)).all():
            fill_buyer(memo, record)
    else:
        query = select(Memo).where(Memo.producer_id == record.id, Memo.status == MemoStatus.DRAFT.value)
        for memo in (await session.exec(query)).all():
            fill_producer(memo, record)


@dataclass(frozen=True)
class BuyerFacts:
    """What a producer is told about a buyer before deciding (never the phone number itself)."""

    company: str
    kind: str  # BuyerKind value, or ""
    regions: tuple[str, ...]
    phone: str  # "verified" (shared through the platform), "typed" or "none"
    signed_memos: int


async def buyer_facts(session: AsyncSession, buyer: User) -> BuyerFacts:
    profile = await session.get(BuyerProfile, buyer.id)
    signed = await session.exec(
        select(func.count()).select_from(Memo).where(
            Memo.buyer_user_id == buyer.id, Memo.status == MemoStatus.SIGNED.value
        )
    )
    phone = "none" if not buyer.phone else "verified" if buyer.phone_verified else "typed"
    return BuyerFacts(
        company=profile.company if profile else "",
        kind=profile.kind if profile else "",
        regions=tuple(profile.regions or ()) if profile else (),
        phone=phone,
        signed_memos=signed.one(),
    )
