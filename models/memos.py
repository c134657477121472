"""Cooperation memos: every contact request is logged as an expression of interest; consent makes it a draft
"Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm" that both sides confirm and the coordination office marks signed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import record
from models.catalog import Producer, Product
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.errors import NotAuthorised, Stale, StaleAction
from models.memo_document import MemoDocument, MemoLine, MemoParty
from models.ocop import PRODUCER_KIND_LABELS, ProducerKind
from models.people import BuyerKind, BuyerProfile, User

if TYPE_CHECKING:
    from models.requests import ContactRequest



class MemoStatus(StrEnum):
    INTEREST = "interest"  # logged at the request; the producer's contacts stay blank
    DRAFT = "draft"  # the producer consented
    CONFIRMED = "confirmed"  # both sides confirmed the draft
    SIGNED = "signed"  # the coordination office recorded the signature
    DECLINED = "declined"
    EXPIRED = "expired"


VISIBLE_TO_PRODUCER = (MemoStatus.DRAFT.value, MemoStatus.CONFIRMED.value, MemoStatus.SIGNED.value)

BUYER_KIND_LABELS = {
    BuyerKind.SUPERMARKET: "Siêu thị",
    BuyerKind.RETAIL_CHAIN: "Chuỗi bán lẻ",
    BuyerKind.DISTRIBUTOR: "Nhà phân phối",
    BuyerKind.WHOLESALER: "Đơn vị bán buôn",
    BuyerKind.EXPORTER: "Doanh nghiệp xuất khẩu",
    BuyerKind.HORECA: "Nhà hàng, khách sạn (HoReCa)",
    BuyerKind.ECOMMERCE: "Sàn thương mại điện tử",
}


class Memo(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="contact_request.id", unique=True)
    buyer_user_id: int = Field(foreign_key="app_user.id", index=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # made at or for an event
    status: str = Field(default=MemoStatus.INTEREST.value, max_length=20, index=True)
    message: str = Field(default="", max_length=1000)
    volume: str = Field(default="", max_length=200)
    season: str = Field(default="", max_length=200)
    # Party A (buyer) and party B (producer) as they were when the memo was drafted.
    buyer_company: str = Field(default="", max_length=300)
    buyer_kind: str = Field(default="", max_length=20)
    buyer_name: str = Field(default="", max_length=200)
    buyer_phone: str = Field(default="", max_length=40)
    producer_name: str = Field(default="", max_length=300)
    producer_address: str = Field(default="", max_length=500)
    producer_phone: str = Field(default="", max_length=40)  # blank until the producer consents
    producer_email: str = Field(default="", max_length=200)  # blank until the producer consents
    drafted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    buyer_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    producer_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    signed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def number(self) -> str:
        return f"{self.id}/{self.created_at.astimezone(TIMEZONE).year}/BBGN-OCOP"


async def open_interest(session: AsyncSession, request: ContactRequest, buyer: User, now: datetime) -> Memo:
    producer = await session.get(Producer, request.producer_id)
    profile = await session.get(BuyerProfile, buyer.id)
    assert producer is not None and request.id is not None and buyer.id is not None
    memo = Memo(
        request_id=request.id,
        buyer_user_id=buyer.id,
        producer_id=request.producer_id,
        product_id=request.product_id,
        message=request.message,
        volume=request.volume,
        season=request.season,
        buyer_company=profile.company if profile else "",
        buyer_kind=profile.kind if profile else "",
        buyer_name=buyer.display_name,
        buyer_phone=buyer.phone,
        producer_name=producer.name,
        producer_address=producer.address,
        created_at=now,
        updated_at=now,
    )
    session.add(memo)
    await session.flush()
    return memo


async def record_answer(session: AsyncSession, request: ContactRequest, *, accept: bool, now: datetime) -> Memo:
    memo = (await session.exec(select(Memo).where(Memo.request_id == request.id))).one()
    if accept:
        producer = await session.get(Producer, request.producer_id)
        buyer = await session.get(User, request.buyer_user_id)
        assert producer is not None and buyer is not None
        memo.status = MemoStatus.DRAFT.value
        memo.drafted_at = now
        memo.producer_name, memo.producer_address = producer.name, producer.address
        memo.producer_phone, memo.producer_email = producer.phone, producer.email
        memo.buyer_phone = buyer.phone or memo.buyer_phone
    else:
        memo.status = MemoStatus.DECLINED.value
    memo.updated_at = now
    return memo


def _may_read(user: User, memo: Memo) -> bool:
    if user.is_admin or memo.buyer_user_id == user.id:
        return True
    return user.producer_id == memo.producer_id and memo.status in VISIBLE_TO_PRODUCER


async def get_memo(session: AsyncSession, user: User, memo_id: int) -> Memo:
    memo = await session.get(Memo, memo_id)
    if memo is None:
        raise StaleAction("no such memo", Stale.GONE)
    if not _may_read(user, memo):
        raise NotAuthorised("not a party to this memo")
    return memo


async def memos_of(session: AsyncSession, user: User, limit: int = 20) -> list[Memo]:
    """The memos a user may read, newest first (admins: all)."""
    query = select(Memo).order_by(col(Memo.id).desc()).limit(limit)
    if not user.is_admin:
        mine = Memo.buyer_user_id == user.id
        if user.producer_id is not None:
            theirs = (Memo.producer_id == user.producer_id) & col(Memo.status).in_(VISIBLE_TO_PRODUCER)
            query = query.where(or_(mine, theirs))
        else:
            query = query.where(mine)
    return list((await session.exec(query)).all())


async def confirm_memo(session: AsyncSession, user: User, memo_id: int, now: datetime) -> Memo:
    """The buyer or the producer confirms the draft; when both have, it is confirmed."""
    memo = await get_memo(session, user, memo_id)
    if memo.status != MemoStatus.DRAFT.value:
        raise StaleAction(f"memo is {memo.status}", Stale.ANSWERED)
    if memo.buyer_user_id == user.id:
        memo.buyer_confirmed_at = memo.buyer_confirmed_at or now
    elif user.producer_id == memo.producer_id:
        memo.producer_confirmed_at = memo.producer_confirmed_at or now
    else:
        raise NotAuthorised("only the two parties confirm")
    if memo.buyer_confirmed_at and memo.producer_confirmed_at:
        memo.status = MemoStatus.CONFIRMED.value
    memo.updated_at = now
    return memo


async def sign_memo(session: AsyncSession, admin: User, memo_id: int, now: datetime) -> Memo:
    if not admin.is_admin:
        raise NotAuthorised("only admins record signatures")
    memo = await get_memo(session, admin, memo_id)
    if memo.status != MemoStatus.CONFIRMED.value:
        raise StaleAction(f"memo is {memo.status}", Stale.ANSWERED)
    memo.status = MemoStatus.SIGNED.value
    memo.signed_at = now
    memo.updated_at = now
    record(session, admin.id, "memo.sign", f"memo:{memo_id}", now, admin.display_name)
    return memo


STATUS_MARKS = {
    MemoStatus.DRAFT.value: "BẢN DỰ THẢO",
    MemoStatus.CONFIRMED.value: "ĐÃ XÁC NHẬN",
    MemoStatus.SIGNED.value: "ĐÃ KÝ",
}


async def memo_document(
    session: AsyncSession, memo: Memo, *, event: str = "", place: str = "Hà Nội"
) -> MemoDocument:
    """The printable memo; only for memos the producer consented to."""
    if memo.status not in STATUS_MARKS:
        raise StaleAction("no document before the producer consents")
    product = await session.get(Product, memo.product_id)
    producer = await session.get(Producer, memo.producer_id)
    assert product is not None and producer is not None
    ocop = f"OCOP {product.stars} sao" + (" (tiềm năng 5 sao)" if product.potential_5 else "")
    certificate = ""
    if product.decision_no or product.decision_date:
        certificate = f"QĐ số {product.decision_no}" if product.decision_no else "QĐ"
        if product.decision_date and product.expires_on:
            certificate += f" ngày {product.decision_date:%d/%m/%Y}, hiệu lực đến {product.expires_on:%d/%m/%Y}"
    buyer_kind = BUYER_KIND_LABELS.get(BuyerKind(memo.buyer_kind), "") if memo.buyer_kind in set(BuyerKind) else ""
    return MemoDocument(
        number=memo.number,
        signed_place=place,
        drafted_on=(memo.drafted_at or memo.created_at).astimezone(TIMEZONE).date(),
        status=STATUS_MARKS[memo.status],
        party_a=MemoParty(
            name=memo.buyer_company or memo.buyer_name,
            representative=memo.buyer_name,
            address="",
            phone=memo.buyer_phone,
            email="",
            kind=buyer_kind,
        ),
        party_b=MemoParty(
            name=memo.producer_name,
            representative="",
            address=memo.producer_address,
            phone=memo.producer_phone,
            email=memo.producer_email,
            kind=PRODUCER_KIND_LABELS.get(ProducerKind(producer.kind), ""),
        ),
        lines=(MemoLine(product.name, ocop, certificate, product.unit, memo.volume, memo.season),),
        buyer_message=memo.message,
        event=event,
    )
