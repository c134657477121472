"""The tables of the office's dashboard: memos and contact requests filtered by status, a page at a time, newest
first, with what a row shows; and each memo's audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditLog
from models.catalog import Producer, Product
from models.events import Registration
from models.memos import Memo, MemoStatus
from models.people import BuyerProfile, User
from models.requests import ContactRequest, RequestStatus

PAGE_SIZE = 25
Row = TypeVar("Row")


@dataclass(frozen=True)
class MemoRow:
    memo: Memo
    product: str


@dataclass(frozen=True)
class RequestRow:
    request: ContactRequest
    buyer: str  # the company, or the buyer's name
    product: str
    producer: str


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    total: int  # rows matching the filter
    page: int  # 1-based, within 1..pages
    pages: int


def _bounds(total: int, page: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return min(max(page, 1), pages), pages


async def memo_page(session: AsyncSession, status: str | None, page: int, size: int = PAGE_SIZE, *,
                    event_id: int | None = None) -> Page[MemoRow]:
    """``status`` None for every memo (an unknown status matches none); ``event_id`` for the memos of one event."""
    where = [] if status is None else [col(Memo.status) == status]
    if event_id is not None:
        where.append(col(Memo.event_id) == event_id)
    total = int((await session.exec(select(func.count(col(Memo.id))).where(*where))).one())
    page, pages = _bounds(total, page, size)
    rows = await session.exec(
        select(Memo, Product.name).join(Product, col(Product.id) == Memo.product_id).where(*where)
        .order_by(col(Memo.id).desc()).offset((page - 1) * size).limit(size)
    )
    return Page([MemoRow(memo, name) for memo, name in rows.all()], total, page, pages)


async def request_page(session: AsyncSession, status: str | None, page: int, size: int = PAGE_SIZE
                       ) -> Page[RequestRow]:
    """``status`` None for every request (an unknown status matches none)."""
    where = [] if status is None else [col(ContactRequest.status) == status]
    total = int((await session.exec(select(func.count(col(ContactRequest.id))).where(*where))).one())
    page, pages = _bounds(total, page, size)
    rows = await session.exec(
        select(ContactRequest, BuyerProfile.company, User.display_name, Product.name, Producer.name)
        .join(User, col(User.id) == ContactRequest.buyer_user_id)
        .outerjoin(BuyerProfile, col(BuyerProfile.user_id) == ContactRequest.buyer_user_id)
        .join(Product, col(Product.id) == ContactRequest.product_id)
        .join(Producer, col(Producer.id) == ContactRequest.producer_id)
        .where(*where).order_by(col(ContactRequest.id).desc()).offset((page - 1) * size).limit(size)
    )
    return Page([RequestRow(request, company or name, product, producer)
                 for request, company, name, product, producer in rows.all()], total, page, pages)


STATUSES = tuple(status.value for status in MemoStatus)
REQUEST_STATUSES = tuple(status.value for status in RequestStatus)


async def trail(session: AsyncSession, subject: str, limit: int = 100) -> list[tuple[AuditLog, str]]:
    """What admins did to one thing ("memo:3", "product:7"), oldest first, with each actor's name ("" for the
    system)."""
    rows = await session.exec(
        select(AuditLog, User.display_name).outerjoin(User, col(User.id) == AuditLog.actor_id)
        .where(AuditLog.subject == subject).order_by(col(AuditLog.id)).limit(limit)
    )
    return [(entry, name or "") for entry, name in rows.all()]


async def hidden_products(session: AsyncSession, limit: int = 100) -> list[tuple[Product, str]]:
    """Products hidden from search (the engine does not see them), with their producer, latest first."""
    rows = await session.exec(
        select(Product, Producer.name).join(Producer, col(Producer.id) == Product.producer_id)
        .where(col(Product.hidden).is_(True)).order_by(col(Product.updated_at).desc()).limit(limit)
    )
    return list(rows.all())


@dataclass(frozen=True)
class Registrant:
    name: str
    company: str  # a buyer's company, or the producer's name
    role: str  # EventRole value
    registered_at: datetime


async def event_registrants(session: AsyncSession, event_id: int) -> list[Registrant]:
    """Who registered for an event, in the order they did."""
    rows = await session.exec(
        select(Registration, User.display_name, BuyerProfile.company, Producer.name)
        .join(User, col(User.id) == Registration.user_id)
        .outerjoin(BuyerProfile, col(BuyerProfile.user_id) == Registration.user_id)
        .outerjoin(Producer, col(Producer.id) == User.producer_id)
        .where(Registration.event_id == event_id).order_by(col(Registration.id))
    )
    return [Registrant(name, company or producer or "", registration.role, registration.created_at)
            for registration, name, company, producer in rows.all()]
