"""The memo table of the office's dashboard: memos filtered by status, a page at a time, with their product's
name, and each memo's audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditLog
from models.catalog import Product
from models.memos import Memo, MemoStatus
from models.people import User

PAGE_SIZE = 25


@dataclass(frozen=True)
class MemoRow:
    memo: Memo
    product: str


@dataclass(frozen=True)
class MemoPage:
    rows: list[MemoRow]
    total: int  # memos matching the filter
    page: int  # 1-based, within 1..pages
    pages: int


async def memo_page(session: AsyncSession, status: str | None, page: int, size: int = PAGE_SIZE) -> MemoPage:
    """Newest first; ``status`` None for every memo (an unknown status matches none)."""
    where = [] if status is None else [col(Memo.status) == status]
    total = int((await session.exec(select(func.count(col(Memo.id))).where(*where))).one())
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    rows = await session.exec(
        select(Memo, Product.name).join(Product, col(Product.id) == Memo.product_id).where(*where)
        .order_by(col(Memo.id).desc()).offset((page - 1) * size).limit(size)
    )
    return MemoPage([MemoRow(memo, name) for memo, name in rows.all()], total, page, pages)


STATUSES = tuple(status.value for status in MemoStatus)


async def memo_trail(session: AsyncSession, memo_id: int) -> list[tuple[AuditLog, str]]:
    """What admins did to a memo, oldest first, with each actor's name ("" for the system)."""
    rows = await session.exec(
        select(AuditLog, User.display_name).outerjoin(User, col(User.id) == AuditLog.actor_id)
        .where(AuditLog.subject == f"memo:{memo_id}").order_by(col(AuditLog.id))
    )
    return [(entry, name or "") for entry, name in rows.all()]
