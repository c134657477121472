"""Exports for the office: memos, contact requests and the catalogue as CSV (UTF-8 with BOM, for Excel) or XLSX."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.admin import require_admin
from models.audit import record
from models.catalog import Producer, Product
from models.catalog_export import COLUMNS as PRODUCT_COLUMNS
from models.catalog_export import product_rows_in
from models.clock import TIMEZONE
from models.events import Event
from models.memos import Memo
from models.people import BuyerProfile, User
from models.requests import ContactRequest
from models.tabular import write_csv, write_xlsx


class ExportKind(StrEnum):
    MEMOS = "memos"
    REQUESTS = "requests"
    PRODUCTS = "products"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MIME = {
    ExportFormat.CSV: "text/csv",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

MEMO_COLUMNS = (
    "id", "number", "kind", "status", "created_at", "drafted_at", "signed_at", "event", "product", "stars", "group",
    "producer", "province", "region", "buyer_company", "buyer_kind", "buyer_name", "buyer_phone", "producer_phone",
    "producer_email", "volume", "season", "message",
)
REQUEST_COLUMNS = (
    "id", "status", "created_at", "answered_at", "response_hours", "product", "stars", "producer", "province",
    "region", "buyer", "buyer_company", "memo_id", "event", "volume", "season", "message",
)


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: list[Sequence[Any]]


@dataclass(frozen=True)
class ExportFile:
    filename: str
    data: bytes
    mime: str
    rows: int


def _local(moment: datetime | None) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M") if moment else ""


async def memo_table(session: AsyncSession) -> Table:
    query = (
        select(Memo, Product, Producer, Event)
        .outerjoin(Product, col(Product.id) == Memo.product_id)  # none for framework and province memos
        .outerjoin(Producer, col(Producer.id) == Memo.producer_id)
        .outerjoin(Event, col(Event.id) == Memo.event_id)
        .order_by(col(Memo.id))
    )
    rows = []
    for memo, product, producer, event in (await session.exec(query)).all():
        province = producer.province if producer else memo.province
        rows.append((
            memo.id, memo.number, memo.kind, memo.status, _local(memo.created_at), _local(memo.drafted_at),
            _local(memo.signed_at), event.name if event else "", product.name if product else "",
            product.stars if product else "", product.group if product else "",
            producer.name if producer else memo.org_b, province, geography.region_of(province) if province else "",
            memo.buyer_company or memo.org_a, memo.buyer_kind, memo.buyer_name or memo.org_a_representative,
            memo.buyer_phone, memo.producer_phone, memo.producer_email, memo.volume, memo.season, memo.message,
        ))
    return Table(MEMO_COLUMNS, rows)


async def request_table(session: AsyncSession) -> Table:
    query = (
        select(ContactRequest, Product, Producer, User, BuyerProfile, Memo, Event)
        .join(Product, col(Product.id) == ContactRequest.product_id)
        .join(Producer, col(Producer.id) == ContactRequest.producer_id)
        .join(User, col(User.id) == ContactRequest.buyer_user_id)
        .outerjoin(BuyerProfile, col(BuyerProfile.user_id) == ContactRequest.buyer_user_id)
        .outerjoin(Memo, col(Memo.request_id) == ContactRequest.id)
        .outerjoin(Event, col(Event.id) == Memo.event_id)
        .order_by(col(ContactRequest.id))
    )
    rows = []
    for request, product, producer, buyer, profile, memo, event in (await session.exec(query)).all():
        hours = ""
        if request.answered_at is not None:
            hours = round((request.answered_at - request.created_at).total_seconds() / 3600, 1)
        rows.append((
            request.id, request.status, _local(request.created_at), _local(request.answered_at), hours,
            product.name, product.stars, producer.name, producer.province, geography.region_of(producer.province),
            buyer.display_name, profile.company if profile else "", memo.id if memo else "",
            event.name if event else "", request.volume, request.season, request.message,
        ))
    return Table(REQUEST_COLUMNS, rows)


async def product_table(session: AsyncSession) -> Table:
    """The catalogue in the importer's shape: an exported file imports back unchanged."""
    return Table(PRODUCT_COLUMNS, await product_rows_in(session))


TABLES = {ExportKind.MEMOS: memo_table, ExportKind.REQUESTS: request_table, ExportKind.PRODUCTS: product_table}


def encode(table: Table, fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.CSV:
        text = io.StringIO()
        write_csv(table.columns, table.rows, text)
        return text.getvalue().encode("utf-8-sig")
    buffer = io.BytesIO()
    write_xlsx(table.columns, table.rows, buffer)
    return buffer.getvalue()


async def export(session: AsyncSession, admin: User, kind: ExportKind, fmt: ExportFormat, now: datetime) -> ExportFile:
    """A file for an admin; exports hold contact details, so each one is audited."""
    require_admin(admin)
    table = await TABLES[kind](session)
    record(session, admin.id, "export", kind.value, now, f"{fmt.value}, {len(table.rows)} rows")
    filename = f"ocop-{kind.value}-{now.astimezone(TIMEZONE):%Y%m%d-%H%M}.{fmt.value}"
    return ExportFile(filename, encode(table, fmt), MIME[fmt], len(table.rows))
