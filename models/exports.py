"""Exports for the office: memos, contact requests and the catalogue as CSV (UTF-8 with BOM, for Excel) or XLSX."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.admin import require_admin
from models.audit import record
from models.catalog import Producer, Product
from models.catalog_export import product_table_in
from models.clock import TIMEZONE
from models.events import Event
from models.memos import Memo
from models.people import BuyerProfile, User
from models.requests import ContactRequest
from models.sheet import Column, Kind, Table
from models.tabular import Sheet, write_csv, write_workbook


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

K = Kind
# The columns in order; adding one (a memo's kind, say) is a Column here, a value under its key in the table's row
# below, and its header msgid export.column.<key> (its values' msgids too, for a new vocabulary Kind).
MEMO_COLUMNS = (
    Column("id", K.NUMBER), Column("number"), Column("kind", K.MEMO_KIND), Column("status", K.MEMO_STATUS),
    Column("created_at", K.DATETIME), Column("drafted_at", K.DATETIME), Column("signed_at", K.DATETIME),
    Column("event"), Column("product"), Column("stars", K.STARS), Column("group", K.GROUP), Column("producer"),
    Column("province"), Column("region"), Column("buyer_company"), Column("buyer_kind", K.BUYER_KIND),
    Column("buyer_name"), Column("buyer_phone"), Column("producer_phone"), Column("producer_email"), Column("volume"),
    Column("season"), Column("message"),
)
REQUEST_COLUMNS = (
    Column("id", K.NUMBER), Column("status", K.REQUEST_STATUS), Column("created_at", K.DATETIME),
    Column("answered_at", K.DATETIME), Column("response_hours", K.NUMBER), Column("product"),
    Column("stars", K.STARS), Column("producer"), Column("province"), Column("region"), Column("buyer"),
    Column("buyer_company"), Column("memo_id", K.NUMBER), Column("event"), Column("volume"), Column("season"),
    Column("message"),
)


@dataclass(frozen=True)
class ExportFile:
    filename: str
    data: bytes
    mime: str
    rows: int


def _local(moment: datetime | None) -> datetime | None:
    """The office's local time, without time zone (spreadsheets have none)."""
    return moment.astimezone(TIMEZONE).replace(tzinfo=None) if moment else None


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
        values = {
            "id": memo.id, "number": memo.number, "kind": memo.kind, "status": memo.status,
            "created_at": _local(memo.created_at), "drafted_at": _local(memo.drafted_at),
            "signed_at": _local(memo.signed_at), "event": event.name if event else "",
            "product": product.name if product else "", "stars": product.stars if product else None,
            "group": product.group if product else None, "producer": producer.name if producer else memo.org_b,
            "province": province, "region": geography.region_of(province) if province else "",
            "buyer_company": memo.buyer_company or memo.org_a, "buyer_kind": memo.buyer_kind,
            "buyer_name": memo.buyer_name or memo.org_a_representative, "buyer_phone": memo.buyer_phone,
            "producer_phone": memo.producer_phone, "producer_email": memo.producer_email, "volume": memo.volume,
            "season": memo.season, "message": memo.message,
        }
        rows.append(tuple(values[column.key] for column in MEMO_COLUMNS))
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
        hours = None
        if request.answered_at is not None:
            hours = round((request.answered_at - request.created_at).total_seconds() / 3600, 1)
        values = {
            "id": request.id, "status": request.status, "created_at": _local(request.created_at),
            "answered_at": _local(request.answered_at), "response_hours": hours, "product": product.name,
            "stars": product.stars, "producer": producer.name, "province": producer.province,
            "region": geography.region_of(producer.province), "buyer": buyer.display_name,
            "buyer_company": profile.company if profile else "", "memo_id": memo.id if memo else None,
            "event": event.name if event else "", "volume": request.volume, "season": request.season,
            "message": request.message,
        }
        rows.append(tuple(values[column.key] for column in REQUEST_COLUMNS))
    return Table(REQUEST_COLUMNS, rows)


async def product_table(session: AsyncSession) -> Table:
    """The catalogue in the importer's shape: an exported file imports back unchanged."""
    return await product_table_in(session)


TABLES = {ExportKind.MEMOS: memo_table, ExportKind.REQUESTS: request_table, ExportKind.PRODUCTS: product_table}


Render = Callable[[Table], Sheet]  # a table worded for its reader (handlers/exports.labelled)


def encode(sheet: Sheet, fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.CSV:
        text = io.StringIO()
        write_csv(sheet.header, sheet.rows, text)
        return text.getvalue().encode("utf-8-sig")
    buffer = io.BytesIO()
    write_workbook([sheet], buffer)
    return buffer.getvalue()


async def export(
    session: AsyncSession, admin: User, kind: ExportKind, fmt: ExportFormat, now: datetime, render: Render
) -> ExportFile:
    """A file for an admin, worded by ``render``; exports hold contact details, so each one is audited."""
    require_admin(admin)
    table = await TABLES[kind](session)
    record(session, admin.id, "export", kind.value, now, f"{fmt.value}, {len(table.rows)} rows")
    filename = f"ocop-{kind.value}-{now.astimezone(TIMEZONE):%Y%m%d-%H%M}.{fmt.value}"
    return ExportFile(filename, encode(render(table), fmt), MIME[fmt], len(table.rows))
