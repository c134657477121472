"""The Telegram channel end to end: the real PTB Application against a loopback fake Bot API."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bot.config import TelegramSettings
from bot.stopping import finish
from bot.telegram import TelegramChannel
from bot.web import make_app, start_site
from handlers.app import Conversation
from models.catalog_import import import_rows
from models.db import Database
from models.inbox import InboundUpdate
from models.people import Identity, User
from models.tabular import read_bytes
from tests.chat import load_catalogue, make_services
from tests.fake_telegram import TOKEN, FakeTelegram, post_webhook
from tests.fake_zalo import wait_until
from tests.loopback import serving
from tests.telegram_users import TelegramUser

BUYER, PRODUCER, OFFICE = 101, 202, 9000  # 9000 is an admin in tests.chat.make_services
SECRET = "s3cret-token_ABC"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with serving(FakeTelegram()) as server:
        yield server


class Running:
    def __init__(self, channel: TelegramChannel, fake: FakeTelegram, webhook_url: str = "") -> None:
        self.channel, self.fake, self.webhook_url = channel, fake, webhook_url

    async def deliver(self, update: dict) -> None:  # type: ignore[type-arg]
        if self.webhook_url:
            assert await post_webhook(self.webhook_url, update, SECRET) == 200
        else:
            await self.fake.push(update)

    def user(self, user_id: int) -> TelegramUser:
        return TelegramUser(self.fake, user_id, self.deliver)


async def run_channel(db: Database, fake: FakeTelegram, mode: str) -> AsyncIterator[Running]:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    settings = TelegramSettings(
        token=TOKEN, base_url=fake.base_url, mode=mode, webhook_secret=SECRET,  # type: ignore[arg-type]
        webhook_url="https://ocop.example.vn/telegram/webhook" if mode == "webhook" else "",
        chat_gap_seconds=0,  # Telegram's 1 s per chat is tested with the pacer (test_pacing_retry, test_durability)
    )
    channel = TelegramChannel(conversation, settings)
    runner = None
    url = ""
    app = make_app(conversation.services)
    await channel.start(app)
    if mode == "webhook":
        runner, port = await start_site(app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}/telegram/webhook"
    running = asyncio.create_task(channel.run(pump_interval=0.05))
    await asyncio.wait_for(channel.connected.wait(), 10)
    try:
        yield Running(channel, fake, url)
    finally:
        channel.stopping.set()
        await finish([running])
        if runner is not None:
            await runner.cleanup()


@pytest.fixture
async def polling(sqlite_db: Database, fake: FakeTelegram) -> AsyncIterator[Running]:
    async for running in run_channel(sqlite_db, fake, "polling"):
        yield running


@pytest.fixture
async def webhook(sqlite_db: Database, fake: FakeTelegram) -> AsyncIterator[Running]:
    async for running in run_channel(sqlite_db, fake, "webhook"):
        yield running


async def journey(running: Running) -> None:
    buyer, producer, office = running.user(BUYER), running.user(PRODUCER), running.user(OFFICE)

    await office.says("/claimcode HTX Mật ong Mèo Vạc")
    confirm = await office.expect("Cấp mã nhận hồ sơ cho chủ thể này")  # shown first; no code before the press
    assert "HTX Mật ong Mèo Vạc — Tuyên Quang — 1 sản phẩm" in confirm.text and "CODE" not in confirm.text
    assert [button["text"] for button in confirm.buttons] == ["Cấp mã", "Huỷ"]
    await office.presses("Cấp mã")
    code = re.search(r"Vạc»: ([A-Z0-9]+)", (await office.expect("Mã nhận hồ sơ")).text)
    assert code

    await producer.says("/start")
    await producer.expect("vai trò nào")  # the language is Telegram's (language_code): not asked
    await producer.presses("chủ thể sản xuất")
    await producer.expect("Gõ tên chủ thể")
    await producer.says("mật ong mèo vạc")
    await producer.expect("Hồ sơ nào là của bạn")
    await producer.presses("HTX Mật ong Mèo Vạc")
    await producer.expect("Nhập mã")
    await producer.says(code.group(1))
    await producer.expect("Xác nhận thành công")

    await buyer.says("/start")  # 1
    await buyer.expect("vai trò nào")
    await buyer.presses("người mua")  # 2
    await buyer.expect("Tên doanh nghiệp")
    await buyer.says("Siêu thị Xanh")  # 3
    await buyer.expect("thuộc loại nào")
    await buyer.presses("Siêu thị")  # 4
    ask = await buyer.expect("Chia sẻ số điện thoại")
    assert ask.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    await buyer.shares_phone("+84912345678")  # 5: registered
    await buyer.expect("đã được đăng ký là người mua")
    await buyer.expect("Không bắt buộc: bạn quan tâm sản phẩm của vùng nào?")  # may be left unanswered

    await buyer.says("mat ong ha giang")
    await buyer.expect("Mật ong bạc hà Mèo Vạc")
    await buyer.presses("Mật ong bạc hà")
    card = await buyer.expect("OCOP ★★★★")
    assert "0900 000 111" not in card.text
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.expect("Viết lời nhắn")
    await buyer.says("Cần mật ong cho chuỗi 20 cửa hàng")
    await buyer.expect("Sản lượng dự kiến")
    await buyer.presses("Bỏ qua")
    await buyer.expect("Thời vụ")
    await buyer.presses("Bỏ qua")
    await buyer.expect("Kiểm tra lại yêu cầu")
    await buyer.presses("Gửi yêu cầu")
    await buyer.expect("Đã gửi yêu cầu #1")

    await producer.expect("Yêu cầu liên hệ mới #1")
    await producer.presses("Chấp nhận")
    await producer.expect("+84912345678")
    document = await producer.expect("bien-ban-ghi-nho-1.docx")
    assert document.method == "sendDocument" and len(document.files["bien-ban-ghi-nho-1.docx"]) > 5000
    await buyer.expect("0900 000 111")
    await buyer.expect("bien-ban-ghi-nho-1.docx")


async def test_full_journey_polling(polling: Running) -> None:
    await journey(polling)
    fake = polling.fake
    assert fake.count("deleteWebhook") >= 1 and fake.count("getUpdates") >= 1
    menus = [c for c in fake.calls if c.method == "setMyCommands"]
    assert {c.params.get("language_code") for c in menus} == {None, "en"}
    assert any(cmd["command"] == "memos" for cmd in menus[0].params["commands"])


async def test_full_journey_webhook(webhook: Running) -> None:
    await journey(webhook)
    assert webhook.fake.count("setWebhook") == 1
    assert webhook.fake.calls[[c.method for c in webhook.fake.calls].index("setWebhook")].params["secret_token"] == SECRET


async def test_wrong_secret_is_refused_and_nothing_is_processed(webhook: Running) -> None:
    update = webhook.fake.message_update(BUYER, "/help")
    assert await post_webhook(webhook.webhook_url, update, "wrong") == 403
    assert await post_webhook(webhook.webhook_url, update, None) == 403
    await webhook.channel.idle()
    assert webhook.fake.sent_to(BUYER) == []
    async with webhook.channel.services.db.session() as session:
        assert (await session.exec(select(Identity))).all() == []


async def test_duplicate_delivery_is_processed_once(webhook: Running) -> None:
    update = webhook.fake.message_update(BUYER, "/help")
    for _ in range(3):
        assert await post_webhook(webhook.webhook_url, update, SECRET) == 200
    await webhook.user(BUYER).expect("Xin chào")
    await webhook.channel.idle()
    assert len(webhook.fake.sent_to(BUYER)) == 1
    async with webhook.channel.services.db.session() as session:
        stored = (await session.exec(select(InboundUpdate))).all()
    assert [(u.update_key, u.handled_at is not None) for u in stored] == [(str(update["update_id"]), True)]


async def test_429_is_waited_out_and_retried(polling: Running) -> None:
    polling.fake.throttle["sendMessage"] = [1]
    user = polling.user(BUYER)
    started = time.monotonic()
    await user.says("/help")
    await user.expect("Xin chào")
    assert time.monotonic() - started >= 1.0
    assert [c.method for c in polling.fake.calls if c.method.startswith("sendMessage")] == ["sendMessage!429", "sendMessage"]


async def test_user_who_blocked_the_bot_is_marked_and_skipped(polling: Running) -> None:
    polling.fake.blocked.add(BUYER)
    await polling.user(BUYER).says("/help")
    for _ in range(100):
        async with polling.channel.services.db.session() as session:
            user = (await session.exec(select(User))).first()
        if user is not None and user.blocked:
            break
        await asyncio.sleep(0.05)
    assert user is not None and user.blocked


async def test_stale_button_gets_a_short_callback_notice(polling: Running) -> None:
    user = polling.user(BUYER)
    await user.taps("ra:424242")
    for _ in range(100):
        answers = [c for c in polling.fake.calls if c.method == "answerCallbackQuery"]
        if answers:
            break
        await asyncio.sleep(0.05)
    assert "không còn nữa" in answers[0].params.get("text", "")  # says why
    await polling.channel.idle()
    assert polling.fake.sent_to(BUYER) == []


async def test_paging_edits_the_message(polling: Running) -> None:
    more = "Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\n" + "".join(
        f"Trà xanh số {n},HTX Trà {n},Thái Nguyên,Đồ uống,3\n" for n in range(1, 4)
    )
    await import_rows(polling.channel.services.db, read_bytes(more.encode(), "more.csv"))
    user = polling.user(BUYER)
    await user.says("/browse")
    await user.expect("Chọn vùng")
    await user.presses("Cả nước")
    await user.expect("nhóm sản phẩm")
    await user.presses("Tất cả các nhóm")
    await user.expect("Hạng sao")
    await user.presses("Từ 3 sao")
    first = await user.expect("Tìm thấy 8 sản phẩm, đang xem 1–5")
    assert first.method == "sendMessage"
    await user.presses("Xem thêm")
    edited = await user.expect("đang xem 6–8")
    assert edited.method == "editMessageText"
    assert int(edited.params["message_id"]) == first.result["message_id"]


async def test_group_chat_answers_only_public_commands(polling: Running) -> None:
    fake = polling.fake
    group = -1001
    await fake.push(fake.message_update(BUYER, "xin chào cả nhóm", chat_id=group))
    await fake.push(fake.message_update(BUYER, "/help@other_bot", chat_id=group))
    await fake.push(fake.message_update(BUYER, "/requests@ocop_test_bot", chat_id=group))
    await fake.wait_for(group, "nhắn riêng")
    await fake.push(fake.message_update(BUYER, "/search@ocop_test_bot mat ong", chat_id=group))
    await fake.wait_for(group, "Mật ong bạc hà")
    await wait_until(lambda: polling.channel.inbox.processed >= 4, what="the four group messages handled")
    await polling.channel.idle()
    assert len(fake.sent_to(group)) == 2


async def test_product_photo_is_sent_with_send_photo(polling: Running) -> None:
    from sqlmodel import col

    from models.catalog import Product

    async with polling.channel.services.db.transaction() as session:
        product = (await session.exec(select(Product).where(col(Product.name).startswith("Gốm")))).one()
        product.photo = "https://ocop.example.vn/photos/gom.jpg"
        product_id = product.id
    user = polling.user(BUYER)
    await user.taps(f"p:{product_id}")
    card = await user.expect("Gốm men lam Bát Tràng")
    assert card.method == "sendPhoto"
    assert card.params["photo"] == "https://ocop.example.vn/photos/gom.jpg"
    assert card.buttons  # the contact button rides on the photo


async def test_one_chat_in_order_while_others_run(polling: Running) -> None:
    user, other = polling.user(BUYER), polling.user(PRODUCER)
    for word in ("mat ong", "gom bat trang", "che tan cuong"):
        await polling.deliver(polling.fake.message_update(BUYER, word))
    await other.says("/help")
    await other.expect("Xin chào")
    await user.expect("Chè búp")
    texts = [c.text for c in polling.fake.sent_to(BUYER)]
    assert ["Mật ong" in texts[0], "Gốm" in texts[1], "Chè" in texts[2]] == [True, True, True]


async def test_buyers_are_understood_as_they_write(polling: Running) -> None:
    """A chat sentence, Telex leftovers and English find the product; the closest matches are buttons too."""
    user = polling.user(BUYER)
    await user.says("chào shop, cho mình hỏi mua nước mắm phú quốc được không ạ")
    await user.expect("1. Nước mắm Phú Quốc 40 độ đạm")
    await user.says("maatj ong hafg giang")
    await user.expect("1. Mật ong bạc hà Mèo Vạc")
    await user.says("cần gốm, chè và gạo")
    await user.expect("Không có sản phẩm nào khớp hết")
    await user.presses("Chè búp Tân Cương")
    card = await user.expect("Chè búp Tân Cương")
    assert any("Liên hệ nhà sản xuất" in b["text"] for b in card.buttons)  # the card itself

    english = {"id": 303, "is_bot": False, "first_name": "Anna", "language_code": "en"}
    await polling.deliver(polling.fake.message_update(303, "fish sauce", **{"from": english}))
    found = await polling.fake.wait_for(303, "Nước mắm Phú Quốc")
    assert "Nước mắm Phú Quốc 40 độ đạm — fish sauce" in found.text  # an English gloss for English readers


async def test_a_number_typed_under_results_picks_that_result(polling: Running) -> None:
    user = polling.user(BUYER)
    await user.says("gạo và chè")  # two products, each half of what was asked
    await user.expect("2. ")
    await user.says("2")
    card = await user.expect("OCOP ★★★★★")
    assert "Tìm thấy" not in card.text  # the card, not a search for "2"
