"""Cooperation memos: every contact request is logged as an expression of interest; consent makes it a draft
"Biên bản ghi nhớ hợp tác tiêu thụ sản phẩm" that both sides confirm and the coordination office marks signed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import record
from models.catalog import Producer, Product
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.errors import NotAuthorised, Stale, StaleAction
from models.memo_document import MemoDocument, MemoLine, MemoParty, certificate_text, render_memo_docx
from models.memo_templates import FRAMEWORK, PROVINCE, ContentMemo, render_content_memo_docx
from models.ocop import PRODUCER_KIND_LABELS, ProducerKind
from models.people import BuyerKind, BuyerProfile, Role, User, users_of_producer, users_with_role

if TYPE_CHECKING:
    from models.requests import ContactRequest



class MemoStatus(StrEnum):
    INTEREST = "interest"  # logged at the request; the producer's contacts stay blank
    DRAFT = "draft"  # the producer consented
    CONFIRMED = "confirmed"  # both sides confirmed the draft
    SIGNED = "signed"  # the coordination office recorded the signature
    DECLINED = "declined"
    EXPIRED = "expired"


class MemoKind(StrEnum):
    """The three kinds Hanoi's events report, each with its own template and numbering."""

    FRAMEWORK = "framework"  # organisation ↔ organisation (office, associations, provinces); made by the office
    PROVINCE = "province"  # a buyer ↔ a province, the coordination office acting for the province
    PRODUCER = "producer"  # a buyer ↔ an OCOP producer, from a contact request


NUMBER_SUFFIX = {MemoKind.FRAMEWORK: "BBGN-TC", MemoKind.PROVINCE: "BBGN-DP", MemoKind.PRODUCER: "BBGN-OCOP"}

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
    __table_args__ = (UniqueConstraint("kind", "year", "seq", name="uq_memo_number"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=MemoKind.PRODUCER.value, max_length=20, index=True)
    year: int = 0  # the number: seq/year/suffix, one sequence per kind and year
    seq: int = 0
    request_id: int | None = Field(default=None, foreign_key="contact_request.id", unique=True)  # producer memos
    buyer_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)  # none: framework
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)  # producer memos
    product_id: int | None = Field(default=None, foreign_key="product.id")  # producer memos
    province: str = Field(default="", max_length=100)  # province memos: the province the buyer sources from
    # Framework memos: the two organisations and their representatives, as the office named them.
    org_a: str = Field(default="", max_length=300)
    org_a_representative: str = Field(default="", max_length=200)
    org_b: str = Field(default="", max_length=300)
    org_b_representative: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")  # the admin who made it (framework)
    # The admin who confirmed for the producer (not on the bot) or for the province; None: the party itself.
    producer_confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # made at or for an event
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)  # started from a meeting
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
    buyer_representative: str = Field(default="", max_length=200)
    buyer_position: str = Field(default="", max_length=120)
    buyer_address: str = Field(default="", max_length=500)
    buyer_tax_code: str = Field(default="", max_length=14)
    buyer_email: str = Field(default="", max_length=200)
    producer_representative: str = Field(default="", max_length=200)
    producer_position: str = Field(default="", max_length=120)
    producer_tax_code: str = Field(default="", max_length=14)
    drafted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    buyer_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    producer_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    signed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def number(self) -> str:
        return f"{self.seq}/{self.year}/{NUMBER_SUFFIX[MemoKind(self.kind)]}"


async def number_memo(session: AsyncSession, memo: Memo, now: datetime) -> Memo:
    """Give ``memo`` the next number of its kind this year (Vietnam time) and add it to the session; a number
    taken meanwhile by another transaction fails the unique constraint, and the update is tried again."""
    memo.year = now.astimezone(TIMEZONE).year
    last = (
        await session.exec(select(func.max(Memo.seq)).where(Memo.kind == memo.kind, Memo.year == memo.year))
    ).one()
    memo.seq = int(last or 0) + 1
    session.add(memo)
    await session.flush()
    return memo


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
    if profile is not None:
        fill_buyer(memo, profile)
    return await number_memo(session, memo, now)


async def record_answer(session: AsyncSession, request: ContactRequest, *, accept: bool, now: datetime) -> Memo:
    memo = (await session.exec(select(Memo).where(Memo.request_id == request.id))).one()
    if accept:
        producer = await session.get(Producer, request.producer_id)
        buyer = await session.get(User, request.buyer_user_id)
        assert producer is not None and buyer is not None
        memo.status = MemoStatus.DRAFT.value
        memo.drafted_at = now
        fill_producer(memo, producer)
        memo.producer_phone = producer.phone
        memo.buyer_phone = buyer.phone or memo.buyer_phone
    else:
        memo.status = MemoStatus.DECLINED.value
    memo.updated_at = now
    return memo


def fill_buyer(memo: Memo, profile: BuyerProfile) -> None:
    """Party A as the buyer's profile has it."""
    memo.buyer_company = profile.company
    memo.buyer_kind = profile.kind
    memo.buyer_representative, memo.buyer_position = profile.representative, profile.position
    memo.buyer_address, memo.buyer_tax_code, memo.buyer_email = profile.address, profile.tax_code, profile.email


def fill_producer(memo: Memo, producer: Producer) -> None:
    """Party B as the producer's record has it: what they gave after claiming it, the catalogue's otherwise."""
    memo.producer_name = producer.name
    memo.producer_address = producer.given_address or producer.address
    memo.producer_email = producer.given_email or producer.email
    memo.producer_representative, memo.producer_position = producer.representative, producer.position
    memo.producer_tax_code = producer.tax_code


def _may_read(user: User, memo: Memo) -> bool:
    if user.is_admin or (memo.buyer_user_id is not None and memo.buyer_user_id == user.id):
        return True
    return (
        memo.producer_id is not None and user.producer_id == memo.producer_id and memo.status in VISIBLE_TO_PRODUCER
    )


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


async def producer_on_bot(session: AsyncSession, memo: Memo) -> bool:
    """Whether someone claimed the memo's producer record (they then confirm for themselves)."""
    return memo.producer_id is not None and bool(await users_of_producer(session, memo.producer_id))


async def confirm_memo(session: AsyncSession, user: User, memo_id: int, now: datetime) -> Memo:
    """A side confirms the draft; when both have, it is confirmed. The buyer confirms side A; side B is confirmed
    by the producer's own users, or by an admin for a producer nobody claimed (audited) and for a province."""
    memo = await get_memo(session, user, memo_id)
    if memo.status != MemoStatus.DRAFT.value:
        raise StaleAction(f"memo is {memo.status}", Stale.ANSWERED)
    if memo.buyer_user_id is not None and memo.buyer_user_id == user.id:
        memo.buyer_confirmed_at = memo.buyer_confirmed_at or now
    elif memo.producer_id is not None and user.producer_id == memo.producer_id:
        memo.producer_confirmed_at = memo.producer_confirmed_at or now
    elif await may_confirm_for_party_b(session, user, memo):
        if memo.producer_confirmed_at is None:
            memo.producer_confirmed_at, memo.producer_confirmed_by = now, user.id
            record(session, user.id, f"memo.confirm_for_{memo.kind}", f"memo:{memo.id}", now)
    else:
        raise NotAuthorised("only the two parties confirm")
    if memo.buyer_confirmed_at and memo.producer_confirmed_at:
        memo.status = MemoStatus.CONFIRMED.value
    memo.updated_at = now
    return memo


async def may_confirm_for_party_b(session: AsyncSession, user: User, memo: Memo) -> bool:
    """An admin confirms side B of a province memo, and of a producer memo whose producer is not on the bot."""
    if not user.is_admin:
        return False
    if memo.kind == MemoKind.PROVINCE.value:
        return True
    return memo.kind == MemoKind.PRODUCER.value and not await producer_on_bot(session, memo)


async def office(session: AsyncSession) -> list[User]:
    """The coordination office: every admin."""
    return await users_with_role(session, Role.ADMIN)


async def propose_to_province(
    session: AsyncSession, buyer: User, province: str, wish: str, volume: str, event_id: int | None, now: datetime
) -> Memo:
    """A buyer's proposal to source from ``province``: a draft the buyer confirmed by sending it; the office
    confirms for the province."""
    profile = await session.get(BuyerProfile, buyer.id)
    if profile is None or buyer.id is None:
        raise NotAuthorised("buyers only")
    memo = Memo(
        kind=MemoKind.PROVINCE.value,
        buyer_user_id=buyer.id,
        province=province,
        event_id=event_id,
        status=MemoStatus.DRAFT.value,
        message=wish,
        volume=volume,
        buyer_company=profile.company,
        buyer_kind=profile.kind,
        buyer_name=buyer.display_name,
        buyer_phone=buyer.phone,
        drafted_at=now,
        buyer_confirmed_at=now,
        created_at=now,
        updated_at=now,
    )
    fill_buyer(memo, profile)
    return await number_memo(session, memo, now)


async def make_framework_memo(
    session: AsyncSession, admin: User, parties: tuple[tuple[str, str], tuple[str, str]], content: str,
    event_id: int | None, now: datetime,
) -> Memo:
    """A framework memo between two organisations ((name, representative) each), made by the office after both
    agreed its content: it starts confirmed, and an admin marks it signed at the ceremony. Audited."""
    if not admin.is_admin:
        raise NotAuthorised("only the office makes framework memos")
    (org_a, rep_a), (org_b, rep_b) = parties
    memo = Memo(
        kind=MemoKind.FRAMEWORK.value,
        event_id=event_id,
        status=MemoStatus.CONFIRMED.value,
        message=content,
        org_a=org_a, org_a_representative=rep_a, org_b=org_b, org_b_representative=rep_b,
        created_by=admin.id,
        drafted_at=now,
        created_at=now,
        updated_at=now,
    )
    await number_memo(session, memo, now)
    record(session, admin.id, "memo.framework", f"memo:{memo.id}", now, f"{org_a} – {org_b}")
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


OFFICE = "Văn phòng Điều phối Chương trình OCOP"
ON_BEHALF = f"{OFFICE} xác nhận thay Bên B (chủ thể OCOP chưa tham gia hệ thống) ngày {{day}}."


async def render_memo(session: AsyncSession, memo: Memo, *, event: str = "", place: str = "Hà Nội") -> bytes:
    """The memo's .docx file, by its kind's template; only for memos with a draft."""
    if memo.status not in STATUS_MARKS:
        raise StaleAction("no document before the producer consents")
    if memo.kind == MemoKind.PRODUCER.value:
        return render_memo_docx(await memo_document(session, memo, event=event, place=place))
    province = memo.kind == MemoKind.PROVINCE.value
    if province:
        party_a = buyer_party(memo)
        party_b = MemoParty(f"{OFFICE} (đầu mối kết nối {memo.province})", "", "", "", "")
    else:
        party_a = MemoParty(memo.org_a, memo.org_a_representative, "", "", "")
        party_b = MemoParty(memo.org_b, memo.org_b_representative, "", "", "")
    return render_content_memo_docx(ContentMemo(
        template=PROVINCE if province else FRAMEWORK,
        number=memo.number,
        signed_place=place,
        drafted_on=(memo.drafted_at or memo.created_at).astimezone(TIMEZONE).date(),
        status=STATUS_MARKS[memo.status],
        party_a=party_a,
        party_b=party_b,
        content=memo.message,
        volume=memo.volume,
        event=event,
    ))


def buyer_party(memo: Memo) -> MemoParty:
    """The buyer as a memo's party A: their company and the representative's full name (never the chat name)."""
    kind = BUYER_KIND_LABELS.get(BuyerKind(memo.buyer_kind), "") if memo.buyer_kind in set(BuyerKind) else ""
    return MemoParty(
        name=memo.buyer_company or memo.buyer_name, representative=memo.buyer_representative,
        address=memo.buyer_address, phone=memo.buyer_phone, email=memo.buyer_email, kind=kind,
        position=memo.buyer_position, tax_code=memo.buyer_tax_code,
    )


async def memo_document(
    session: AsyncSession, memo: Memo, *, event: str = "", place: str = "Hà Nội"
) -> MemoDocument:
    """The printable buyer ↔ producer memo; only for memos the producer consented to."""
    if memo.status not in STATUS_MARKS:
        raise StaleAction("no document before the producer consents")
    product = await session.get(Product, memo.product_id)
    producer = await session.get(Producer, memo.producer_id)
    assert product is not None and producer is not None
    ocop = f"OCOP {product.stars} sao" + (" (tiềm năng 5 sao)" if product.potential_5 else "")
    drafted_on = (memo.drafted_at or memo.created_at).astimezone(TIMEZONE).date()
    certificate = certificate_text(product.decision_no, product.decision_date, drafted_on)
    return MemoDocument(
        number=memo.number,
        signed_place=place,
        drafted_on=drafted_on,
        status=STATUS_MARKS[memo.status],
        party_a=buyer_party(memo),
        party_b=MemoParty(
            name=memo.producer_name,
            representative=memo.producer_representative,
            address=memo.producer_address,
            phone=memo.producer_phone,
            email=memo.producer_email,
            kind=PRODUCER_KIND_LABELS.get(ProducerKind(producer.kind), ""),
            position=memo.producer_position,
            tax_code=memo.producer_tax_code,
        ),
        lines=(MemoLine(product.name, ocop, certificate, product.unit, memo.volume, memo.season),),
        buyer_message=memo.message,
        event=event,
        notes=(ON_BEHALF.format(day=f"{memo.producer_confirmed_at.astimezone(TIMEZONE):%d/%m/%Y}"),)
        if memo.producer_confirmed_at and memo.producer_confirmed_by else (),
    )
