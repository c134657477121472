"""Contact requests: a buyer asks to be put in touch with a producer; the producer consents or declines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import Producer, Product
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.errors import DuplicateRequest, NotAuthorised, QuotaExceeded, Stale, StaleAction
from models.events import running_event_for
from models.memos import Memo, MemoStatus, open_interest, record_answer
from models.people import BuyerProfile, User
from models.scans import scan_behind

MAX_MESSAGE = 1000
MAX_DETAIL = 200


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ContactPolicy:
    daily_quota: int = 20
    remind_after: timedelta = timedelta(hours=48)
    expire_after: timedelta = timedelta(days=7)

    def day_start(self, now: datetime) -> datetime:
        """The start (as an aware datetime) of the local day that contains ``now``."""
        local = now.astimezone(TIMEZONE)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)


class ContactRequest(SQLModel, table=True):
    __tablename__ = "contact_request"

    id: int | None = Field(default=None, primary_key=True)
    buyer_user_id: int = Field(foreign_key="app_user.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    message: str = Field(default="", max_length=MAX_MESSAGE)
    volume: str = Field(default="", max_length=MAX_DETAIL)
    season: str = Field(default="", max_length=MAX_DETAIL)
    status: str = Field(default=RequestStatus.PENDING.value, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    answered_by: int | None = Field(default=None, foreign_key="app_user.id")
    scan_id: int | None = Field(default=None, foreign_key="link_scan.id", index=True)  # from a booth's QR code


@dataclass(frozen=True)
class RequestView:
    """A request with what a reader needs to show it."""

    request: ContactRequest
    product: Product
    producer: Producer
    buyer: User
    profile: BuyerProfile | None


async def create_request(
    session: AsyncSession,
    buyer: User,
    product_id: int,
    *,
    message: str,
    volume: str,
    season: str,
    policy: ContactPolicy,
    now: datetime,
) -> tuple[ContactRequest, Memo]:
    """A pending request and its "interest" memo; raises on quota, duplicates and vanished products."""
    product = await check_can_request(session, buyer, product_id, policy, now)
    assert buyer.id is not None
    request = ContactRequest(
        buyer_user_id=buyer.id,
        product_id=product_id,
        producer_id=product.producer_id,
        message=message[:MAX_MESSAGE],
        volume=volume[:MAX_DETAIL],
        season=season[:MAX_DETAIL],
        created_at=now,
    )
    scan = await scan_behind(session, buyer.id, product, now)  # asked after scanning a booth's code at an event
    request.scan_id = scan.id if scan is not None else None
    session.add(request)
    await session.flush()
    memo = await open_interest(session, request, buyer, now)
    # tied to the event they registered for and are at, or else to the event whose booth they scanned
    memo.event_id = await running_event_for(session, buyer.id, now) or (scan.event_id if scan else None)
    return request, memo


async def check_can_request(
    session: AsyncSession, buyer: User, product_id: int, policy: ContactPolicy, now: datetime
) -> Product:
    """The product, when ``buyer`` may ask for its producer's contact now; the reason why not otherwise."""
    if not buyer.is_buyer:
        raise NotAuthorised("only buyers send contact requests")
    product = await session.get(Product, product_id)
    if product is None or product.hidden:
        raise StaleAction("product no longer listed", Stale.GONE)
    sent_today = await session.exec(
        select(func.count())
        .select_from(ContactRequest)
        .where(ContactRequest.buyer_user_id == buyer.id, col(ContactRequest.created_at) >= policy.day_start(now))
    )
    if sent_today.one() >= policy.daily_quota:
        raise QuotaExceeded(policy.daily_quota)
    if await open_request(session, buyer, product_id) is not None:
        raise DuplicateRequest("an open request exists")
    return product


async def open_request(session: AsyncSession, buyer: User, product_id: int) -> ContactRequest | None:
    query = select(ContactRequest).where(
        ContactRequest.buyer_user_id == buyer.id,
        ContactRequest.product_id == product_id,
        ContactRequest.status == RequestStatus.PENDING.value,
    )
    return (await session.exec(query)).first()


async def answer_request(
    session: AsyncSession, user: User, request_id: int, *, accept: bool, now: datetime
) -> tuple[ContactRequest, Memo]:
    """The producer (or an admin relaying for them) accepts or declines; only a pending request can be answered."""
    request = await session.get(ContactRequest, request_id)
    if request is None:
        raise StaleAction("no such request", Stale.GONE)
    if not (user.is_admin or (user.producer_id is not None and user.producer_id == request.producer_id)):
        raise NotAuthorised("not this producer's request")
    if request.status != RequestStatus.PENDING.value:
        raise StaleAction(
            f"request already {request.status}",
            Stale.EXPIRED if request.status == RequestStatus.EXPIRED.value else Stale.ANSWERED,
        )
    request.status = (RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED).value
    request.answered_at = now
    request.answered_by = user.id
    memo = await record_answer(session, request, accept=accept, now=now)
    await session.flush()
    return request, memo


async def view_request(session: AsyncSession, user: User, request_id: int) -> RequestView:
    """A request as its buyer, its producer or an admin may see it."""
    request = await session.get(ContactRequest, request_id)
    if request is None:
        raise StaleAction("no such request", Stale.GONE)
    if not (
        user.is_admin
        or request.buyer_user_id == user.id
        or (user.producer_id is not None and user.producer_id == request.producer_id)
    ):
        raise NotAuthorised("not a party to this request")
    return await _view(session, request)


async def _view(session: AsyncSession, request: ContactRequest) -> RequestView:
    product = await session.get(Product, request.product_id)
    producer = await session.get(Producer, request.producer_id)
    buyer = await session.get(User, request.buyer_user_id)
    assert product is not None and producer is not None and buyer is not None
    return RequestView(request, product, producer, buyer, await session.get(BuyerProfile, request.buyer_user_id))


async def requests_of(
    session: AsyncSession, user: User, limit: int = 20
) -> tuple[list[RequestView], list[RequestView]]:
    """(received: the producer's inbox, pending first; sent: the buyer's requests), newest first."""
    received: list[ContactRequest] = []
    if user.producer_id is not None:
        pending_first = (col(ContactRequest.status) != RequestStatus.PENDING.value).asc()
        query = (
            select(ContactRequest)
            .where(ContactRequest.producer_id == user.producer_id)
            .order_by(pending_first, col(ContactRequest.id).desc())
            .limit(limit)
        )
        received = list((await session.exec(query)).all())
    query = (
        select(ContactRequest)
        .where(ContactRequest.buyer_user_id == user.id)
        .order_by(col(ContactRequest.id).desc())
        .limit(limit)
    )
    sent = list((await session.exec(query)).all())
    return [await _view(session, r) for r in received], [await _view(session, r) for r in sent]


async def due_for_reminder(session: AsyncSession, policy: ContactPolicy, now: datetime) -> list[RequestView]:
    """Pending requests unanswered for ``remind_after``, not yet reminded; marks them reminded."""
    query = select(ContactRequest).where(
        ContactRequest.status == RequestStatus.PENDING.value,
        col(ContactRequest.reminded_at).is_(None),
        col(ContactRequest.created_at) <= now - policy.remind_after,
        col(ContactRequest.created_at) > now - policy.expire_after,
    )
    due = list((await session.exec(query)).all())
    for request in due:
        request.reminded_at = now
    return [await _view(session, r) for r in due]


async def expire_overdue(session: AsyncSession, policy: ContactPolicy, now: datetime) -> list[RequestView]:
    """Pending requests older than ``expire_after`` become expired (their memos too)."""
    query = select(ContactRequest).where(
        ContactRequest.status == RequestStatus.PENDING.value,
        col(ContactRequest.created_at) <= now - policy.expire_after,
    )
    overdue = list((await session.exec(query)).all())
    for request in overdue:
        request.status = RequestStatus.EXPIRED.value
        memo = (await session.exec(select(Memo).where(Memo.request_id == request.id))).first()
        if memo is not None and memo.status == MemoStatus.INTEREST.value:
            memo.status = MemoStatus.EXPIRED.value
            memo.updated_at = now
    return [await _view(session, r) for r in overdue]
