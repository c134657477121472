"""Deep links through the real channels and their loopback fakes: Telegram's ``/start <payload>`` (the bot's name
learnt from getMe), and Zalo (Bot Platform and OA), where the link carries no payload and the code is the first
message."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlmodel import select

from bot.config import TelegramSettings
from bot.stopping import finish
from bot.telegram import TelegramChannel
from handlers.app import Conversation
from handlers.context import Services
from models.catalog import Producer, Product
from models.db import Database
from models.deeplinks import DeepLink, LinkBook, LinkKey, Target
from models.scans import LinkScan
from tests.chat import load_catalogue, make_services
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import FakeZaloBot, FakeZaloOA
from tests.loopback import serving
from tests.telegram_users import TelegramUser
from tests.zalo_users import BotUser, OAUser, zalo_bot, zalo_oa

KEY = LinkKey("deep-link-secret-for-tests-0123456789")


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load_catalogue(sqlite_db)
    services = make_services(sqlite_db)
    services.links = LinkBook(KEY, zalo_oa_url="https://zalo.me/oa-ocop")  # Telegram's name: from getMe
    return services


async def records(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        honey = (await session.exec(select(Product).where(Product.name == "Mật ong bạc hà Mèo Vạc"))).one()
        tea = (await session.exec(select(Producer).where(Producer.name == "HTX Chè Hảo Đạt"))).one()
    return honey.id or 0, tea.id or 0


async def test_telegram_start_with_a_payload_opens_every_kind(services: Services) -> None:
    honey, tea = await records(services.db)
    async with serving(FakeTelegram()) as fake:
        channel = TelegramChannel(Conversation(services), TelegramSettings(
            token=TOKEN, base_url=fake.base_url, mode="polling", chat_gap_seconds=0))  # type: ignore[arg-type]
        running = asyncio.create_task(channel.run(pump_interval=0.05))
        try:
            await asyncio.wait_for(channel.connected.wait(), 10)
            assert services.links.telegram_username == "ocop_test_bot"  # as getMe gave it
            user = TelegramUser(fake, 555, fake.push)
            await user.says("/start " + KEY.payload(DeepLink(Target.PRODUCT, honey, None)))
            card = await user.expect("Mật ong bạc hà Mèo Vạc")
            assert [b["text"] for b in card.buttons] == ["📨 Liên hệ nhà sản xuất", "🔗 Chia sẻ"]
            await user.presses("Chia sẻ")
            shared = await user.expect("https://t.me/ocop_test_bot?start=")
            payload = re.search(r"start=(\S+)", shared.text).group(1)  # type: ignore[union-attr]
            assert KEY.read(payload) == DeepLink(Target.PRODUCT, honey)
            assert "https://zalo.me/oa-ocop" in shared.text and payload in shared.text

            await user.says("/start " + KEY.payload(DeepLink(Target.PRODUCER, tea)))
            await user.expect("Sản phẩm của HTX Chè Hảo Đạt")
            await user.says("/start " + KEY.payload(DeepLink(Target.CLAIM, tea)))
            await user.expect("Nhập mã")
            await user.says("/start " + KEY.payload(DeepLink(Target.LINK)))
            await user.expect("CODE")
            await user.says("/start " + KEY.payload(DeepLink(Target.EVENT, 99)))
            await user.expect("đã kết thúc hoặc đã huỷ")
            await user.says("/start p1_zzzzzz")
            await user.expect("không đọc được")
        finally:
            channel.stopping.set()
            await finish([running])


async def test_zalo_bot_the_code_typed_as_the_first_message(services: Services) -> None:
    honey, _tea = await records(services.db)
    async with serving(FakeZaloBot()) as fake, zalo_bot(services, fake) as run:
        visitor = BotUser(run, fake, "a1b2c3", "Khách")
        code = KEY.payload(DeepLink(Target.PRODUCT, honey, None))
        await visitor.says(code.upper())  # typed from a printed label
        assert "Mật ong bạc hà Mèo Vạc" in visitor.last and "1. 📨 Liên hệ nhà sản xuất" in visitor.last
        await visitor.presses("Chia sẻ")
        assert f"mở https://zalo.me/oa-ocop rồi gửi mã {code}" in visitor.last
        await visitor.says("/start nonsense")
        assert visitor.saw("không đọc được")
        async with services.db.session() as session:
            scans = (await session.exec(select(LinkScan))).all()
        assert [(scan.channel, scan.item) for scan in scans] == [("zalo_bot", honey)]


async def test_zalo_oa_the_code_typed_as_the_first_message(services: Services) -> None:
    _honey, tea = await records(services.db)
    async with serving(FakeZaloOA()) as fake, zalo_oa(services, fake) as run:
        visitor = OAUser(run, fake, "7788")
        await visitor.says("#" + KEY.payload(DeepLink(Target.PRODUCER, tea)))
        assert visitor.saw("Sản phẩm của HTX Chè Hảo Đạt")
        await visitor.presses("Chè búp Tân Cương")
        assert visitor.saw("★★★★★")
