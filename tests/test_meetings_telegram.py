"""A meeting booked and accepted on Telegram (buttons, the notification pump, a document), through the real channel
against the loopback fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time

import pytest
from sqlmodel import select

from models.catalog import Producer
from models.db import Database
from models.events import EventRole, create_event, register
from models.meetings import GridValues, save_grid
from models.people import BuyerProfile, Identity, Role, User
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo import wait_until
from tests.test_telegram import BUYER, OFFICE, PRODUCER, Running, fake, run_channel

__all__ = ["fake"]


@pytest.fixture
async def polling(sqlite_db: Database, fake: FakeTelegram) -> AsyncIterator[Running]:
    async for running in run_channel(sqlite_db, fake, "polling"):
        yield running


async def _user(db: Database, telegram_id: int) -> User:
    async with db.session() as session:
        query = select(User).join(Identity).where(Identity.channel == "telegram",
                                                  Identity.external_id == str(telegram_id))
        return (await session.exec(query)).one()


async def test_a_meeting_booked_and_accepted_on_telegram(polling: Running, sqlite_db: Database) -> None:
    office, buyer, maker = polling.user(OFFICE), polling.user(BUYER), polling.user(PRODUCER)
    for person in (office, buyer, maker):
        await person.says("/help")
        await person.expect("/")
    now = polling.channel.conversation.services.clock.now()
    async with sqlite_db.transaction() as session:
        admin, lan, minh = [await session.get(User, (await _user(sqlite_db, n)).id) for n in (OFFICE, BUYER, PRODUCER)]
        producer = (await session.exec(select(Producer).where(Producer.name == "HTX Chè Hảo Đạt"))).one()
        assert admin and lan and minh
        lan.role, minh.role, minh.producer_id = Role.BUYER.value, Role.PRODUCER.value, producer.id
        session.add(BuyerProfile(user_id=lan.id or 0, company="Siêu thị Xanh"))
        event = await create_event(session, admin, {
            "name": "Kết nối cung cầu", "theme": "", "venue": "Hà Nội", "starts_on": "2026-12-10",
            "ends_on": "2026-12-10", "register_by": "2026-12-09"}, now)
        await register(session, lan, event.id or 0, EventRole.BUYER, now)
        await register(session, minh, event.id or 0, EventRole.PRODUCER, now)
        await save_grid(session, admin, event.id or 0, GridValues(
            days=(event.starts_on,), hours=((time(9), time(10)),), breaks=(), slot_minutes=30, tables=3), now)

    await buyer.says(f"/meetings {event.id}")
    await buyer.expect("Mỗi cuộc gặp 30 phút · 2 lượt · 3 bàn")
    await buyer.presses("Đặt lịch gặp")
    await buyer.expect("Bạn muốn gặp ai")
    await buyer.presses("HTX Chè Hảo Đạt")
    await buyer.expect("Các lượt còn trống")
    await buyer.presses("10/12 09:30–10:00")
    await buyer.expect("Đã gửi đề nghị gặp HTX Chè Hảo Đạt")
    await maker.expect("Siêu thị Xanh muốn gặp bạn lúc 10/12 09:30–10:00, Bàn 1")
    await maker.presses("Xem cuộc gặp")
    await maker.expect("chờ bạn trả lời")
    await maker.presses("Đồng ý")
    await buyer.expect("HTX Chè Hảo Đạt — sản phẩm: Chè búp Tân Cương đã đồng ý gặp bạn lúc 10/12 09:30–10:00")
    await buyer.says("/agenda")
    await buyer.expect("• 10/12 09:30–10:00 · Bàn 1 · HTX Chè Hảo Đạt")
    await buyer.presses("In lịch (DOCX)")
    await buyer.expect("Đây là tệp (1 dòng)")
    await wait_until(lambda: any(call.method == "sendDocument" for call in polling.fake.sent_to(BUYER)),
                     what="the agenda document")
