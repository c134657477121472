"""Catalogue management in the chat: an admin sends a list to import (answered at once, imported by the job worker,
bad rows reported by line in a notification), changes a product's stars, hides it and shows it again."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlmodel import select

from handlers.app import Conversation
from handlers.import_jobs import run_next
from handlers.render import Rendered
from models.audit import AuditLog
from models.catalog import Product
from models.db import Database
from tests.chat import ChatUser, load_catalogue, make_services

LIST = """Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao
Trà hoa vàng Ba Chẽ,HTX Trà hoa vàng Ba Chẽ,Quảng Ninh,Đồ uống,4
Miến dong,HTX Miến,Atlantis,Thực phẩm,3
Bánh chưng,Hộ Bánh chưng,Hà Nội,Thực phẩm,2
Chè búp Tân Cương,HTX Chè Hảo Đạt,Thái Nguyên,Thực phẩm,5
"""


async def sends_file(user: ChatUser, name: str, data: bytes) -> list[Rendered]:
    """What a channel passes on when the user sends a file."""
    return await user._send(document_name=name, document_data=data)


async def imported(user: ChatUser) -> str:
    """The report of the import the user queued, once the job worker has run it."""
    assert await run_next(user.conversation.services, "worker")
    [report] = await user.receive()
    return report.text


@pytest.fixture
async def office(sqlite_db: Database) -> ChatUser:
    await load_catalogue(sqlite_db)
    return ChatUser(Conversation(make_services(sqlite_db)), "office")


async def products(db: Database) -> dict[str, Product]:
    async with db.session() as session:
        return {p.name: p for p in (await session.exec(select(Product))).all()}


async def test_an_admin_imports_a_csv_and_gets_the_row_report(office: ChatUser) -> None:
    db = office.conversation.services.db
    await sends_file(office, "danh-sach.csv", LIST.encode())
    assert office.last == "📥 Đang nhập «danh-sach.csv» — bạn sẽ nhận báo cáo khi xong."
    assert (await imported(office)).split("\n") == [
        "📥 danh-sach.csv: 4 dòng dữ liệu — 1 sản phẩm mới, 1 cập nhật, 0 không đổi; 1 chủ thể mới; "
        "2 dòng lỗi (không được nhập).",
        "Dòng 3: không rõ tỉnh/thành phố «Atlantis»",
        "Dòng 4: số sao phải là 3, 4 hoặc 5 (ghi 2); sản phẩm 1–2 sao không phải sản phẩm OCOP",
    ]
    assert "Trà hoa vàng Ba Chẽ" in await products(db)
    buyer = ChatUser(office.conversation, "lan")
    await buyer.says("tra hoa vang")
    await office.conversation.services.search.wait_rebuilt()  # the index catches up in the background
    await buyer.says("tra hoa vang")
    assert "Trà hoa vàng Ba Chẽ" in buyer.last
    await sends_file(office, "danh-sach.csv", LIST.encode())  # the same list again changes nothing
    assert "0 sản phẩm mới, 0 cập nhật, 2 không đổi; 0 chủ thể mới" in await imported(office)
    async with db.session() as session:
        entry = (await session.exec(select(AuditLog).where(AuditLog.action == "catalog.import"))).first()
    assert entry is not None and entry.detail == "done: 4 rows, 1 new, 1 updated, 2 errors"


async def test_an_xlsx_with_title_rows(office: ChatUser) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH SẢN PHẨM OCOP NĂM 2025"])
    sheet.append([])
    for line in LIST.splitlines():
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    workbook.save(buffer)
    await sends_file(office, "ocop-2025.xlsx", buffer.getvalue())
    report = await imported(office)
    assert report.startswith("📥 ocop-2025.xlsx: 4 dòng dữ liệu — 1 sản phẩm mới")
    assert "Dòng 5: không rõ tỉnh/thành phố «Atlantis»" in report  # numbered as the spreadsheet shows it


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("anh.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "không phải tệp CSV hoặc XLSX"),
        ("list.csv", "Tên,Giá\nChè,100\n".encode(), "thiếu: Tên sản phẩm, Chủ thể, Nhóm sản phẩm, Số sao, tỉnh/thành phố "
         "(các cột tìm thấy: Tên, Giá)"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "không đọc được tệp XLSX"),
    ],
)
async def test_a_file_that_cannot_be_imported_changes_nothing(office: ChatUser, name: str, data: bytes, reason: str) -> None:
    await sends_file(office, name, data)  # refused at once, or by the job (no header) and told in a notification
    await run_next(office.conversation.services, "worker")
    await office.receive()
    assert office.last.startswith(f"Không nhập được «{name}»; chưa có gì thay đổi. Lý do:") and reason in office.last
    assert len(await products(office.conversation.services.db)) == 5


async def test_a_file_the_channel_could_not_fetch(office: ChatUser) -> None:
    await sends_file(office, "huge.xlsx", b"")
    assert office.last == "Không nhận được tệp «huge.xlsx»: tệp rỗng hoặc lớn hơn 20 MB."


async def test_change_stars_and_hide_from_the_card(office: ChatUser) -> None:
    db = office.conversation.services.db
    buyer = ChatUser(office.conversation, "lan")
    await office.says("che tan cuong")
    await office.presses("Chè búp")
    assert office.buttons() == ["📨 Liên hệ nhà sản xuất", "★ Sửa hạng sao", "🙈 Ẩn sản phẩm", "« Quay lại kết quả"]
    await office.presses("Sửa hạng sao")
    assert office.last == "«Chè búp Tân Cương» hiện có 5 sao. Hạng sao mới?" and office.buttons() == ["3★", "4★", "5★", "Huỷ"]
    await office.presses("4★")
    assert office.last == "«Chè búp Tân Cương» giờ có 4 sao."
    assert (await products(db))["Chè búp Tân Cương"].stars == 4

    await office.taps("p:2")
    await office.presses("Ẩn sản phẩm")
    assert office.last == "Đã ẩn «Chè búp Tân Cương» khỏi tìm kiếm (hiện lại: /unhide 2)."
    await buyer.taps("p:2")
    assert "không còn nữa" in buyer.last
    await office.presses("Hiện lại")
    assert office.last == "«Chè búp Tân Cương» đã hiện lại trong tìm kiếm."
    await buyer.taps("p:2")
    assert buyer.last.startswith("Chè búp Tân Cương")
    async with db.session() as session:
        log = [(e.action, e.detail) for e in (await session.exec(select(AuditLog).order_by(AuditLog.id))).all()]
    assert log == [("product.stars", "5 -> 4"), ("product.hide", "Chè búp Tân Cương"),
                   ("product.show", "Chè búp Tân Cương")]


async def test_catalogue_commands(office: ChatUser) -> None:
    db = office.conversation.services.db
    await office.says("/stars 3 5")
    assert office.last == "«Nước mắm Phú Quốc 40 độ đạm» giờ có 5 sao."
    for wrong in ("/stars", "/stars 3 7", "/stars three 5"):
        await office.says(wrong)
        assert office.last.startswith("Cách dùng: /stars")
    await office.says("/stars 999 4")
    assert "không còn nữa" in office.last
    await office.says("/hide 5")
    assert office.last.startswith("Đã ẩn «Gốm men lam Bát Tràng»")
    await office.says("/hide 5")  # hiding twice is harmless and not logged twice
    await office.says("/hide gốm")
    assert office.last.startswith("Cách dùng: /hide")
    await office.says("/unhide 5")
    assert office.last == "«Gốm men lam Bát Tràng» đã hiện lại trong tìm kiếm."
    assert not (await products(db))["Gốm men lam Bát Tràng"].hidden
    async with db.session() as session:
        assert len((await session.exec(select(AuditLog))).all()) == 3  # stars, hide, show
