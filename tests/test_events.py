"""Trade-connection events end to end: an admin creates one, people register, are reminded the day before (also
after a restart), the office edits or cancels it, and memos made there are counted for it."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from docx import Document
from sqlmodel import select

from bot.channel import ChannelRuntime
from bot.housekeeping import housekeeping
from bot.stopping import finish
from handlers.app import Conversation
from handlers.events import send_reminders
from handlers.memos import load_document
from handlers.messages import Capabilities, DocumentRef
from handlers.render import Rendered
from models import geography
from models.clock import FakeClock
from models.db import Database
from models.events import Event, Registration, create_event
from models.memos import Memo
from models.people import User
from models.sample import load_sample_if_empty
from tests.chat import ChatUser, claim_producer, load_catalogue, make_services, register_buyer, request_contact

START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Hanoi
EVENT = {"name": "Hội chợ OCOP Tết", "theme": "Đồng bằng sông Hồng", "venue": "Hoàng Thành Thăng Long",
         "starts_on": "2026-12-10", "ends_on": "2026-12-11", "register_by": "2026-12-09"}


async def add_event(db: Database, clock: FakeClock, **changes: str) -> int:
    async with db.transaction() as session:
        office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        event = await create_event(session, office, {**EVENT, **changes}, clock.now())
        return event.id or 0


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def people(sqlite_db: Database, clock: FakeClock) -> tuple[ChatUser, ChatUser, ChatUser]:
    """(office, a registered buyer, a guest)"""
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, clock))
    office, lan, mai = (ChatUser(conversation, name) for name in ("office", "lan", "mai"))
    await office.says("/help")
    await register_buyer(lan)
    await mai.says("/help")
    return office, lan, mai


async def test_the_office_creates_an_event_and_people_register(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db, FakeClock(START)))
    office, lan, mai = (ChatUser(conversation, name) for name in ("office", "lan", "mai"))
    await register_buyer(lan)

    await office.says("/event new")
    assert office.last == "Tên sự kiện là gì?"
    await office.says("Hội chợ OCOP Tết")
    assert office.buttons() == [
        "Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng", "Nam Bộ", "Miền Trung và Tây Nguyên", "Cả nước"]
    await office.says("Tây Nguyên và Mars")
    assert office.saw("Không nhận ra vùng này")
    await office.says("DBSH")  # typed, as people write it
    assert office.last == "Địa điểm tổ chức?"
    await office.says("Hoàng Thành Thăng Long, Hà Nội")
    for wrong, why in [("32/12/2026", "Không đọc được ngày"), ("10/12/2026 - 09/12/2026", "Ngày kết thúc phải sau"),
                       ("01/11/2026", "Ngày bắt đầu đã qua"), ("sớm thôi", "Không đọc được ngày")]:
        await office.says(wrong)
        assert office.last.startswith(why) and "\n\nNgày tổ chức?" in office.last  # why, then the question again
    await office.says("10/12/2026 - 11/12/2026")
    assert office.last.startswith("Hạn đăng ký")
    await office.presses("Bỏ qua")
    await office.says("Gian hàng đặc sản Tết của các tỉnh đồng bằng")
    preview = office.last
    assert "Chủ đề: Đồng bằng sông Hồng" in preview and "Thời gian: 10/12/2026 – 11/12/2026" in preview
    assert "Hạn đăng ký: 09/12/2026" in preview and "Gian hàng đặc sản Tết" in preview
    await office.presses("Lưu sự kiện")
    assert office.last == "Đã tạo sự kiện «Hội chợ OCOP Tết»."

    await lan.says("/events")
    assert "Hội chợ OCOP Tết\n  10/12/2026 – 11/12/2026 — Hoàng Thành Thăng Long, Hà Nội" in lan.last
    await lan.presses("Hội chợ OCOP Tết")
    assert lan.buttons() == ["Đăng ký (người mua)"]  # a buyer registers as a buyer
    await lan.presses("Đăng ký (người mua)")
    assert lan.last == ("Đã đăng ký tham gia «Hội chợ OCOP Tết» (10/12/2026 – 11/12/2026) với tư cách người mua. "
                        "Chúng tôi sẽ nhắc bạn vào ngày 09/12/2026.")
    await lan.says("/events")
    await lan.presses("Hội chợ OCOP Tết")
    assert "Bạn đã đăng ký tham gia với tư cách người mua" in lan.last and lan.buttons() == ["Gợi ý đối tác", "Huỷ đăng ký"]

    await mai.says("/events")
    await mai.presses("Hội chợ OCOP Tết")
    assert mai.buttons() == ["Đăng ký (người mua)", "Đăng ký (nhà sản xuất)"]  # not registered yet: either
    await mai.presses("nhà sản xuất")
    await mai.taps("ev:1")
    assert "Bạn đã đăng ký tham gia với tư cách nhà sản xuất" in mai.last
    await mai.presses("Huỷ đăng ký")
    assert mai.last == "Đã huỷ đăng ký tham gia «Hội chợ OCOP Tết»."

    await office.taps("ev:1")
    assert "📊 Đăng ký: 1 người mua, 0 nhà sản xuất · Biên bản: 0 (—)" in office.last
    async with db.session() as session:
        event = (await session.exec(select(Event))).one()
        registrations = (await session.exec(select(Registration))).all()
    assert (event.theme, event.register_by.isoformat(), event.created_by) == ("Đồng bằng sông Hồng", "2026-12-09", 2)
    assert [r.role for r in registrations] == ["buyer"]


async def test_reminder_the_day_before_survives_a_restart(
    people: tuple[ChatUser, ChatUser, ChatUser], clock: FakeClock
) -> None:
    office, lan, mai = people
    db = office.conversation.services.db
    await add_event(db, clock)
    await lan.taps("er:1:buyer")
    await mai.taps("er:1:producer")

    clock.advance(days=11, hours=22, minutes=59)  # 9 December, 08:59 in Hanoi
    assert await send_reminders(office.conversation.services) == 0
    # The process restarts: new services and conversation on the same database.
    restarted = Conversation(make_services(db, clock))
    for user in people:
        user.conversation = restarted
    clock.advance(minutes=1)
    assert await send_reminders(restarted.services) == 2
    assert await send_reminders(restarted.services) == 0  # once only
    reminder = (await lan.receive())[-1]
    assert reminder.text == "🔔 Nhắc lịch: «Hội chợ OCOP Tết» diễn ra 10/12/2026 – 11/12/2026 tại Hoàng Thành Thăng Long. Hẹn gặp bạn!"
    assert [b.label for row in reminder.buttons for b in row] == ["Xem sự kiện"]
    assert (await mai.receive())[-1].text.startswith("🔔 Nhắc lịch")

    late = ChatUser(restarted, "hung")
    await late.taps("er:1:buyer")  # registers after the reminder went out (deadline is today)
    assert late.last.startswith("Đã đăng ký")
    assert await send_reminders(restarted.services) == 0
    clock.advance(days=1)
    await late.taps("er:1:buyer")
    assert late.last == "Sự kiện này không còn nhận đăng ký."


async def test_moving_the_event_rearms_the_reminder(people: tuple[ChatUser, ChatUser, ChatUser], clock: FakeClock) -> None:
    office, lan, _mai = people
    await add_event(office.conversation.services.db, clock)
    await lan.taps("er:1:buyer")
    clock.advance(days=12)  # 9 December, 10:00
    assert await send_reminders(office.conversation.services) == 1
    await office.says("/event edit 1")
    assert office.buttons() == ["Tên", "Chủ đề", "Địa điểm", "Ngày tổ chức", "Hạn đăng ký", "Mô tả"]
    await office.presses("Ngày tổ chức")
    await office.says("15/12/2026 - 16/12/2026")
    assert office.last == "Đã cập nhật «Hội chợ OCOP Tết»."
    await office.says("/event edit 1")
    await office.presses("Chủ đề")
    await office.presses("Cả nước")
    await office.says("/event edit 1")
    await office.presses("Hạn đăng ký")
    await office.says("20/12/2026")
    assert office.last.startswith("Hạn đăng ký phải trước khi sự kiện kết thúc.\n\nHạn đăng ký")
    await office.says("/cancel")
    assert await send_reminders(office.conversation.services) == 0
    clock.advance(days=5)  # 14 December, 10:00
    assert await send_reminders(office.conversation.services) == 1
    assert "15/12/2026 – 16/12/2026" in (await lan.receive())[-1].text
    await lan.says("/events")
    assert "Hội chợ OCOP Tết" in lan.last
    await lan.presses("Hội chợ")
    assert "Chủ đề: Cả nước" in lan.last


async def test_cancelling_tells_the_registrants(people: tuple[ChatUser, ChatUser, ChatUser], clock: FakeClock) -> None:
    office, lan, mai = people
    await add_event(office.conversation.services.db, clock)
    await lan.taps("er:1:buyer")
    await office.says("/event cancel 1")
    assert office.last == "Huỷ «Hội chợ OCOP Tết» (10/12/2026 – 11/12/2026)? Mọi người đã đăng ký sẽ được báo."
    await office.presses("Giữ lại")
    await office.says("/event cancel 1")
    await office.presses("Huỷ sự kiện")
    assert office.last == "Đã huỷ «Hội chợ OCOP Tết»; đã báo cho 1 người đăng ký."
    assert (await lan.receive())[-1].text.startswith("⛔ Sự kiện «Hội chợ OCOP Tết» (10/12/2026 – 11/12/2026) đã bị huỷ")
    assert await mai.receive() == []
    await lan.says("/events")
    assert lan.last == "Hiện chưa có sự kiện nào sắp diễn ra."
    await lan.taps("ev:1")
    assert "không còn nữa" in lan.last
    await mai.taps("er:1:buyer")
    assert mai.last == "Sự kiện này không còn nhận đăng ký."
    await office.taps("ex:1:yes")
    assert "đã được trả lời" in office.last
    await office.says("/event list")
    assert "#1 Hội chợ OCOP Tết — 10/12/2026 – 11/12/2026 — đã huỷ — 1 đăng ký" in office.last
    clock.advance(days=12)
    assert await send_reminders(office.conversation.services) == 0  # no reminder for a cancelled event


async def test_memos_made_at_an_event_count_for_it(sqlite_db: Database, clock: FakeClock) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, clock))
    office, lan, hao = (ChatUser(conversation, name) for name in ("office", "lan", "hao"))
    await office.says("/help")
    await register_buyer(lan)
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    await add_event(sqlite_db, clock)
    await lan.taps("er:1:buyer")
    await request_contact(lan, "gom bat trang", "Gốm men lam")  # before the event: not tied to it
    clock.advance(days=13)  # 10 December: the event runs
    await request_contact(lan, "che tan cuong", "Chè búp")
    async with sqlite_db.session() as session:
        memos = (await session.exec(select(Memo).order_by(Memo.id))).all()
    assert [memo.event_id for memo in memos] == [None, 1]

    await hao.receive()
    await hao.presses("Chấp nhận")
    _name, data = await load_document(sqlite_db, DocumentRef("memo", 2))
    paragraphs = [p.text for p in Document(io.BytesIO(data)).paragraphs]
    assert "(Trong khuôn khổ: Hội chợ OCOP Tết)" in paragraphs

    await office.says("/event memo 1 1")  # the office ties the first memo too
    assert office.last == "Đã gắn biên bản #1 với sự kiện «Hội chợ OCOP Tết»."
    await office.taps("ev:1")
    assert "📊 Đăng ký: 1 người mua, 0 nhà sản xuất · Biên bản: 2 (dự thảo 1, quan tâm 1)" in office.last
    await office.says("/stats")
    assert "Theo sự kiện: Hội chợ OCOP Tết 2" in office.last
    await office.says("/event memo 1 0")
    assert office.last == "Đã gỡ biên bản #1 khỏi sự kiện."
    await office.says("/event memo 99 1")
    assert "không còn nữa" in office.last
    await office.says("/event memo x")
    assert office.last.startswith("Cách dùng: /event list")


async def test_the_four_sample_events(db: Database) -> None:
    await load_sample_if_empty(db)
    async with db.session() as session:
        events = (await session.exec(select(Event).order_by(Event.starts_on))).all()
    assert [event.theme for event in events] == [
        "Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng", "Nam Bộ", "Miền Trung và Tây Nguyên"]
    assert all(event.register_by < event.starts_on <= event.ends_on for event in events)
    assert all(geography.resolve(event.theme).place is not None for event in events)
    guest = ChatUser(Conversation(make_services(db, FakeClock(START))), "mai")
    await guest.says("/events")
    assert guest.last.count("• Hội nghị kết nối giao thương sản phẩm OCOP") == 4
    assert len(guest.buttons()) == 4


class Collecting(ChannelRuntime):
    """The smallest channel runtime: its pump is the real one; what it sends is kept."""

    name = "console"
    capabilities = Capabilities()

    def __init__(self, conversation: Conversation) -> None:
        super().__init__(conversation)
        self.sent: list[tuple[str, Rendered]] = []

    async def start(self, web_app: object) -> None:  # type: ignore[override]
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def prepare(self, payload: dict[str, Any]) -> None:
        return None  # nothing comes in: only notifications go out

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        self.sent.append((chat_id, part))


async def test_the_housekeeping_sends_the_reminders(people: tuple[ChatUser, ChatUser, ChatUser], clock: FakeClock) -> None:
    """The process's housekeeping queues the reminder; the channel's pump delivers it."""
    office, lan, _mai = people
    await add_event(office.conversation.services.db, clock)
    await lan.taps("er:1:buyer")
    clock.advance(days=12)
    channel = Collecting(office.conversation)
    pump = asyncio.create_task(channel.run(pump_interval=0.01))  # its pump, its outbox sender
    try:
        async with housekeeping(office.conversation.services, every=0.01):
            for _ in range(200):
                if any("Nhắc lịch" in part.text for _chat, part in channel.sent):
                    break
                await asyncio.sleep(0.01)
    finally:
        channel.stopping.set()
        await finish([pump])
    assert [chat for chat, part in channel.sent if "Nhắc lịch" in part.text] == ["lan"]
