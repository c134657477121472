"""A whole event day of one-to-one meetings in the chat: the office opens the grid, a buyer requests a meeting, the
producer accepts, both see their agenda and are reminded 15 minutes before, the office marks it held, and the
producer starts a memo from it. On the console (numbered options), and in English with buttons and files."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from openpyxl import load_workbook
from sqlmodel import select

from bot.housekeeping import Housekeeping
from handlers.app import Conversation
from handlers.meetings import send_reminders
from models.clock import FakeClock
from models.db import Database
from models.events import create_event
from models.meetings import Meeting
from models.memos import Memo
from models.people import User
from tests.chat import BUTTONS, NO_BUTTONS, ChatUser, claim_producer, load_catalogue, make_services, register_buyer

START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
EVENT = {"name": "Kết nối cung cầu Hà Nội", "theme": "", "venue": "Cung Văn hoá Hữu nghị",
         "starts_on": "2026-12-10", "ends_on": "2026-12-10", "register_by": "2026-12-09"}


async def _event(db: Database, clock: FakeClock) -> None:
    async with db.transaction() as session:
        office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        await create_event(session, office, EVENT, clock.now())


async def _people(db: Database, clock: FakeClock, capabilities: object, language: str = ""
                  ) -> tuple[Conversation, ChatUser, ChatUser, ChatUser]:
    await load_catalogue(db)
    conversation = Conversation(make_services(db, clock))
    office, lan, minh = (ChatUser(conversation, name, capabilities=capabilities, language=language)  # type: ignore[arg-type]
                         for name in ("office", "lan", "minh"))
    await office.says("/help")
    return conversation, office, lan, minh


async def test_an_event_day_on_the_console(sqlite_db: Database) -> None:
    clock = FakeClock(START)
    conversation, office, lan, minh = await _people(sqlite_db, clock, NO_BUTTONS)
    await register_buyer(lan)
    await claim_producer(office, minh, "HTX Chè Hảo Đạt")
    await _event(sqlite_db, clock)
    for person, role in ((lan, "người mua"), (minh, "nhà sản xuất")):
        await person.says("/events")
        await person.presses("Kết nối cung cầu")
        await person.presses(f"Đăng ký ({role})")

    # The office opens the grid: every day, 08:00–10:00 with a break, 20 minutes, two tables.
    await office.says("/meetings grid 1")
    assert office.saw("Những ngày nào?") and "1. Tất cả các ngày" in office.last
    await office.presses("Tất cả các ngày")
    await office.says("cả ngày")
    assert office.saw("Không đọc được khung giờ")
    await office.says("8h-10h")  # as people write it
    await office.says("09:00-09:20")
    await office.presses("20 phút")
    await office.presses("Các bàn đánh số")
    await office.says("0")
    assert office.saw("Hãy gõ số bàn, từ 1 đến 500.")
    await office.says("2")
    assert "Mỗi cuộc gặp: 20 phút — 5 lượt" in office.last and "Bàn: 2" in office.last
    await office.presses("Lưu lịch gặp")
    assert office.last.startswith("Đã lưu lịch gặp «Kết nối cung cầu Hà Nội»: 5 lượt, 2 bàn.")

    # The buyer asks the producer for 08:20.
    await lan.says("/meetings")
    await lan.presses("Kết nối cung cầu")
    assert "Mỗi cuộc gặp 20 phút · 5 lượt · 2 bàn" in lan.last
    await lan.presses("Đặt lịch gặp")
    await lan.presses("HTX Chè Hảo Đạt")
    assert [b.label for b in lan.seen[-1].options] == [
        "10/12 08:00–08:20", "10/12 08:20–08:40", "10/12 08:40–09:00", "10/12 09:20–09:40", "10/12 09:40–10:00"]
    await lan.presses("10/12 08:20–")
    assert lan.last.startswith("Đã gửi đề nghị gặp HTX Chè Hảo Đạt")
    await lan.says("2")  # the old slot menu is gone: typing its number now is no booking
    async with sqlite_db.session() as session:
        assert len((await session.exec(select(Meeting))).all()) == 1

    # The producer is told at once, and accepts.
    [notice] = await minh.receive()
    assert "Siêu thị Xanh muốn gặp bạn lúc 10/12 08:20–08:40, Bàn 1" in notice.text
    await minh.presses("Xem cuộc gặp")
    assert "chờ bạn trả lời" in minh.last
    await minh.presses("Đồng ý")
    [told] = await lan.receive()
    assert "HTX Chè Hảo Đạt" in told.text and "đã đồng ý gặp bạn lúc 10/12 08:20–08:40" in told.text

    await lan.says("/agenda")
    assert "• 10/12 08:20–08:40 · Bàn 1 · HTX Chè Hảo Đạt — sản phẩm: Chè búp Tân Cương · đã hẹn" in lan.last
    await minh.says("/agenda")
    assert "• 10/12 08:20–08:40 · Bàn 1 · Siêu thị Xanh · đã hẹn" in minh.last
    await minh.presses("In lịch (DOCX)")
    assert minh.last == "Kênh này chưa gửi được tệp. Hãy dùng /export trên Telegram."  # the console takes no files

    # 15 minutes before: both reminded, once.
    services = conversation.services
    clock._now = datetime(2026, 12, 10, 1, 4, tzinfo=UTC)  # 08:04 in Hanoi
    assert await send_reminders(services) == 0
    clock.advance(minutes=2)
    await Housekeeping(services).round()  # the process's housekeeping sends them
    assert await send_reminders(services) == 0  # once
    for person, other in ((lan, "HTX Chè Hảo Đạt"), (minh, "Siêu thị Xanh")):
        got = await person.receive()  # with the event's own reminder, due the same morning
        [reminder] = [message for message in got if "giờ gặp" in message.text]
        assert reminder.text.startswith(f"🔔 Sắp đến giờ gặp: {other}") and "08:20–08:40, Bàn 1" in reminder.text

    # After the meeting: the office marks it held, the producer starts a memo from it.
    clock.advance(minutes=30)
    await office.says("/meetings held 1")
    assert office.last == "Cuộc gặp #1 (Siêu thị Xanh ⇄ HTX Chè Hảo Đạt — sản phẩm: Chè búp Tân Cương): đã gặp."
    await minh.says("/agenda")
    await minh.presses("Siêu thị Xanh")
    await minh.presses("Lập biên bản")
    await minh.presses("Chè búp Tân Cương")
    assert minh.last.startswith("Đã lập dự thảo biên bản 1/2026/BBGN-OCOP về «Chè búp Tân Cương»")
    [memo_notice] = await lan.receive()
    assert "Dự thảo biên bản 1/2026/BBGN-OCOP" in memo_notice.text
    async with sqlite_db.session() as session:
        memo = (await session.exec(select(Memo))).one()
    assert (memo.meeting_id, memo.event_id, memo.status) == (1, 1, "draft")

    await office.says("/stats")
    assert "Gặp gỡ 1-1: 1 đã gặp, 0 vắng mặt · 1 biên bản từ cuộc gặp" in office.last


async def test_propose_cancel_and_files_in_english(sqlite_db: Database) -> None:
    clock = FakeClock(START)
    _conversation, office, lan, minh = await _people(sqlite_db, clock, BUTTONS)
    await register_buyer(lan)
    await claim_producer(office, minh, "HTX Chè Hảo Đạt")
    for person in (office, lan, minh):
        await person.says("/lang")
        await person.presses("English")
    await _event(sqlite_db, clock)
    await lan.says("/events")
    await lan.presses("Kết nối cung cầu")
    await lan.presses("buyer")
    await minh.says("/events")
    await minh.presses("Kết nối cung cầu")
    await minh.presses("producer")
    await office.says("/meetings grid 1")
    await office.presses("Every day")
    await office.says("08:00-09:00")
    await office.presses("Skip")
    await office.presses("20 minutes")
    await office.presses("One booth per producer")
    await office.presses("Save the grid")
    assert office.last.startswith("Saved the meeting grid of «Kết nối cung cầu Hà Nội»: 3 slots, 1 tables.")

    # The producer asks the buyer; the buyer proposes another time; the producer accepts, then cancels.
    await minh.says("/meetings 1")
    await minh.presses("Book a meeting")
    await minh.presses("Siêu thị Xanh")
    await minh.presses("10/12 08:00–")
    await lan.receive()
    await lan.presses("Open the meeting")
    await lan.presses("Propose another time")
    await lan.presses("10/12 08:40–")
    assert lan.last.startswith("Proposed 10/12 08:40–09:00 to HTX Chè Hảo Đạt")
    [proposal] = await minh.receive()
    assert "Siêu thị Xanh proposes 10/12 08:40–09:00 (HTX Chè Hảo Đạt) instead of 10/12 08:00–08:20" in proposal.text
    await minh.presses("Open the meeting")
    await minh.presses("Accept")
    await minh.taps("mta:1:yes")  # the moved request cannot be answered any more
    assert minh.last == "This was already answered: it no longer applies."
    await minh.taps("mtb:1:p:99999:1")  # tampered: a producer asking as a buyer
    assert minh.last == "Sorry, you are not allowed to do that."
    await lan.taps("mtb:1:p:1")  # a producer who is not at the event
    assert lan.last == "The other side is no longer at the event."
    await minh.taps("mtx:abc")
    assert minh.last == "This option is no longer valid. Type /help to see what you can do."
    await lan.taps("mth:2:held")  # only the office marks meetings
    assert lan.last == "Sorry, you are not allowed to do that."
    await lan.receive()
    await lan.says("/agenda")
    await lan.presses("Print agenda (DOCX)")
    document = Document(io.BytesIO(lan.seen[-1].document.data))  # type: ignore[union-attr]
    cells = [cell.text for row in document.tables[0].rows for cell in row.cells]
    assert cells[:4] == ["Time", "Table", "With", "Status"] and "10/12 08:40–09:00" in cells
    await office.says("/meetings 1")
    await office.presses("Grid per table (XLSX)")
    sheet = load_workbook(io.BytesIO(office.seen[-1].document.data)).active  # type: ignore[union-attr]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Table", "Time", "Buyer", "Producer", "Status"]
    assert ["HTX Chè Hảo Đạt", "10/12 08:40–09:00", "Siêu thị Xanh", "HTX Chè Hảo Đạt", "booked"] in rows
    await minh.says("/agenda")
    await minh.presses("Siêu thị Xanh")
    await minh.presses("Cancel the meeting")
    await minh.presses("Cancel it")
    [cancelled] = await lan.receive()
    assert cancelled.text.startswith("⛔ The meeting with HTX Chè Hảo Đạt") and "08:40–09:00" in cancelled.text
    async with sqlite_db.session() as session:
        statuses = [m.status for m in (await session.exec(select(Meeting).order_by(Meeting.id))).all()]
    assert statuses == ["moved", "cancelled"]

    # Booked again, then the buyer withdraws from the event: the producer is told the meeting is off.
    await lan.says("/meetings 1")
    await lan.presses("Book a meeting")
    await lan.presses("HTX Chè Hảo Đạt")
    await lan.presses("10/12 08:20–")
    await minh.receive()
    await minh.presses("Open the meeting")
    await minh.presses("Accept")
    await lan.receive()
    await lan.says("/events")
    await lan.presses("Kết nối cung cầu")
    await lan.presses("Withdraw")
    [off] = await minh.receive()
    assert off.text.startswith("⛔ The meeting with Siêu thị Xanh at 10/12 08:20–08:40")
    await lan.says("/agenda")
    assert lan.last == "You have no meetings yet."
