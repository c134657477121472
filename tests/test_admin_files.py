"""Files the office exchanges with the bot: generated attachments (charts, exports) on each channel, and a list an
admin uploads on Telegram, end to end against the fake Bot API (imported by the worker, reported as a notification;
tests/test_import_jobs.py has the rest of that story)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bot.channel import finish
from bot.console import ConsoleChannel
from bot.housekeeping import ImportWorker
from bot.zalo_bot import ZaloBotChannel
from handlers.app import Conversation
from handlers.messages import CONSOLE, Attachment, Capabilities, DocumentRef, Reply
from handlers.render import render
from models.catalog_import import BATCH_ROWS
from models.charts import PNG_SIGNATURE
from models.db import Database
from tests.chat import NO_BUTTONS, load_catalogue, make_services, picture
from tests.fake_telegram import FakeTelegram
from tests.test_import_jobs import big_list
from tests.test_telegram import BUYER, OFFICE, Running, run_channel

CHART = Attachment("chart.png", PNG_SIGNATURE + b"...", "image/png")
SHEET = Attachment("memos.xlsx", b"PK\x03\x04...", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
TELEGRAM = Capabilities(max_text=4096, max_buttons=100)


def test_a_chart_is_a_photo_where_files_can_be_uploaded() -> None:
    [part] = render(Reply("Thống kê", photo=CHART), TELEGRAM, "")
    assert (part.photo, part.document) == (CHART, None)


def test_a_chart_becomes_a_file_where_photos_cannot_be_shown() -> None:
    [part] = render(Reply("Thống kê", photo=CHART), CONSOLE, "")
    assert (part.photo, part.document) == ("", CHART)


def test_made_files_are_dropped_where_no_file_can_be_sent() -> None:
    [part] = render(Reply("Thống kê", photo=CHART), NO_BUTTONS, "")
    assert (part.photo, part.document) == ("", None)
    [part] = render(Reply("Xuất", document=SHEET), NO_BUTTONS, "")
    assert part.document is None
    [part] = render(Reply("Biên bản", document=DocumentRef("memo", 1)), NO_BUTTONS, "")
    assert part.document == DocumentRef("memo", 1)  # such channels send a signed link to a memo


def test_attachments_are_never_queued_as_notifications() -> None:
    with pytest.raises(ValueError, match="direct replies only"):
        Reply("x", document=SHEET).to_json()
    with pytest.raises(ValueError, match="direct replies only"):
        Reply("x", photo=CHART).to_json()
    assert Reply.from_json(Reply("x", document=DocumentRef("memo", 3)).to_json()).document == DocumentRef("memo", 3)


async def test_the_console_saves_charts_and_exports(sqlite_db: Database, tmp_path: Path) -> None:
    await load_catalogue(sqlite_db)
    out = io.StringIO()
    console = ConsoleChannel(Conversation(make_services(sqlite_db)), "office", out=out, documents=tmp_path / "documents")
    await console.says(text="/stats")
    [chart] = (tmp_path / "documents").glob("ocop-stats-*.png")
    assert chart.read_bytes().startswith(PNG_SIGNATURE) and f"[{chart}]" in out.getvalue()
    await console.says(text="/export products")
    [sheet] = (tmp_path / "documents").glob("ocop-products-*.xlsx")
    assert len(list(load_workbook(sheet, read_only=True).worksheets[0].values)) == 6  # header, five products


# -- Telegram, end to end -----------------------------------------------------------------------------------------


@pytest.fixture
async def polling(sqlite_db: Database) -> AsyncIterator[Running]:
    """The Telegram channel with the import worker that ``serve`` runs beside it (bot/housekeeping.py)."""
    fake = FakeTelegram()
    await fake.start()
    try:
        async for running in run_channel(sqlite_db, fake, "polling"):
            imports = ImportWorker(running.channel.services)
            task = asyncio.create_task(imports.run())
            yield running
            imports.stopping.set()
            await finish([task])
    finally:
        await fake.stop()


def xlsx_list() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Tên sản phẩm", "Chủ thể", "Tỉnh", "Nhóm sản phẩm", "Số sao"])
    sheet.append(["Trà hoa vàng Ba Chẽ", "HTX Trà hoa vàng Ba Chẽ", "Quảng Ninh", "Đồ uống", 4])
    sheet.append(["Miến dong", "HTX Miến", "Atlantis", "Thực phẩm", 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def test_an_admin_uploads_a_list_and_gets_files_back_on_telegram(polling: Running) -> None:
    fake = polling.fake
    office = polling.user(OFFICE)
    office.mark = len(fake.sent_to(OFFICE))
    await fake.push(fake.document_update(OFFICE, "danh-sach-ocop.xlsx", xlsx_list()))
    await office.expect("📥 Đang nhập «danh-sach-ocop.xlsx» — bạn sẽ nhận báo cáo khi xong.")
    report = await office.expect("📥 danh-sach-ocop.xlsx: 2 dòng dữ liệu — 1 sản phẩm mới")  # from the worker
    assert "Dòng 3: không rõ tỉnh/thành phố «Atlantis»" in report.text
    assert fake.count("getFile") == 1 and fake.count("download") == 1

    await office.says("/stats")
    chart = await office.expect("📊 Thống kê chương trình")
    assert chart.method == "sendPhoto" and "Sản phẩm: 6" in chart.text  # the text is the photo's caption
    [(name, data)] = chart.files.items()
    assert name.startswith("ocop-stats-") and data.startswith(PNG_SIGNATURE)

    await office.says("/export products")
    export = await office.expect("ocop-products-")
    assert export.method == "sendDocument"
    rows = list(load_workbook(io.BytesIO(next(iter(export.files.values()))), read_only=True).worksheets[0].values)
    assert len(rows) == 7 and rows[6][1] == "Trà hoa vàng Ba Chẽ"

    buyer = polling.user(BUYER)
    buyer.mark = len(fake.sent_to(BUYER))
    await fake.push(fake.document_update(BUYER, "spam.csv", b"a,b\n1,2\n"))
    await buyer.expect("Kênh này chưa nhận tệp tin")


async def test_a_picture_sent_on_telegram_becomes_the_broadcast_photo(polling: Running) -> None:
    fake = polling.fake
    office = polling.user(OFFICE)
    office.mark = len(fake.sent_to(OFFICE))
    await office.says("/broadcast")
    await office.expect("Gõ nội dung tin nhắn")
    await office.says("Mời tham quan gian hàng OCOP")
    await office.expect("Kèm ảnh?")
    photo = picture("JPEG", (1280, 960))
    await fake.push(fake.photo_update(OFFICE, photo))
    await office.expect("Gửi cho ai?")
    downloads = [call.params["path"] for call in fake.calls if call.method == "download"]
    assert downloads == ["photos/photo2.jpg"]  # the full-size picture, not the thumbnail
    await office.presses("Tất cả người dùng")
    preview = await office.expect("Mời tham quan gian hàng OCOP")
    assert preview.method == "sendPhoto" and next(iter(preview.files.values())) == photo
    await office.expect("Ảnh kèm theo: ảnh bạn đã gửi")

    buyer = polling.user(BUYER)
    buyer.mark = len(fake.sent_to(BUYER))
    await fake.push(fake.photo_update(BUYER, photo, caption="mat ong"))  # elsewhere the caption is a search
    await buyer.expect("Mật ong bạc hà Mèo Vạc")
    assert [call.params["path"] for call in fake.calls if call.method == "download"] == downloads  # not fetched


def test_progress_replaces_the_last_report_only_where_messages_can_be_edited() -> None:
    progress = Reply("📥 Đang nhập «lon.csv»: 500/1500 dòng (33%)…", progress="import:7")
    assert Reply.from_json(progress.to_json()) == progress  # kept through the notification queue
    [telegram] = render(progress, TELEGRAM, "")
    [zalo] = render(progress, ZaloBotChannel.capabilities, "")
    assert (telegram.progress, zalo.progress) == ("import:7", "")  # on Zalo each quarter is a message of its own


async def test_a_large_list_reports_its_progress_in_one_edited_message_on_telegram(polling: Running) -> None:
    fake = polling.fake
    office = polling.user(OFFICE)
    office.mark = len(fake.sent_to(OFFICE))
    await fake.push(fake.document_update(OFFICE, "lon.csv", big_list(4 * BATCH_ROWS)))
    await office.expect(f"📥 lon.csv: {4 * BATCH_ROWS} dòng dữ liệu — {4 * BATCH_ROWS} sản phẩm mới")
    reports = [call for call in fake.sent_to(OFFICE)[office.mark:] if "Đang nhập «lon.csv»:" in call.text]
    assert [(call.method, call.text.rsplit("(", 1)[1]) for call in reports] == [
        ("sendMessage", "25%)…"), ("editMessageText", "50%)…"), ("editMessageText", "75%)…")]
    first = reports[0].result["message_id"]
    assert all(int(call.params["message_id"]) == first for call in reports[1:])
