"""The Zalo Bot Platform channel against the loopback fake: whole journeys by polling and by webhook, numbered
options instead of buttons, memos as signed links, and what Zalo's errors do."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from handlers.app import Conversation
from handlers.context import Services
from handlers.render import Rendered
from models.catalog import Product
from models.catalog_import import import_rows
from models.db import Database
from models.inbox import InboundUpdate
from models.memos import Memo
from models.people import Identity, User
from models.tabular import read_bytes
from tests.chat import ChatUser, claim_producer, load_catalogue, make_services
from tests.fake_zalo import BOT_TOKEN, FakeZaloBot, wait_until
from tests.loopback import serving
from tests.zalo_users import BotUser, Running, zalo_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloBot]:
    async with serving(FakeZaloBot()) as server:
        yield server


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load_catalogue(sqlite_db)
    return make_services(sqlite_db)


async def register(buyer: BotUser) -> None:
    await buyer.says("/start")
    assert "1. Tôi là người mua (siêu thị, nhà phân phối…)\n2. Tôi là chủ thể sản xuất OCOP" in buyer.last
    await buyer.presses("người mua")
    await buyer.says("Siêu thị Xanh")
    await buyer.presses("Siêu thị")
    assert "Hoặc gõ «Bỏ qua»." in buyer.last  # a number here is the phone itself: skip by its word
    await buyer.says("0912 345 678")  # no contact button on Zalo: typed
    assert buyer.saw("Siêu thị Xanh đã được đăng ký là người mua")
    await buyer.presses("Đồng bằng sông Hồng")
    await buyer.presses("Xong")


async def journey(run: Running, fake: FakeZaloBot, services: Services) -> None:
    office = ChatUser(Conversation(services), "office")  # the coordination office on the console
    buyer, producer = BotUser(run, fake, "b1a2c3", "Lan"), BotUser(run, fake, "d4e5f6", "Hảo")
    await claim_producer(office, producer, "HTX Mật ong Mèo Vạc")
    await register(buyer)

    await buyer.says("mat ong ha giang")
    await buyer.presses("Mật ong bạc hà")
    assert "OCOP ★★★★" in buyer.last and "0900 000 111" not in buyer.last
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.says("Chúng tôi cần mật ong cho 20 cửa hàng")
    await buyer.says("300 chai/tháng")
    await buyer.presses("Bỏ qua")
    await buyer.presses("Gửi yêu cầu")
    assert buyer.saw("Đã gửi yêu cầu #1")

    notice = await producer.waits_for("Yêu cầu liên hệ mới #1")  # delivered by the channel's pump
    assert "20 cửa hàng" in notice and "0912 345 678" not in notice
    await producer.presses("Chấp nhận")
    assert "0912 345 678" in producer.last and "/memos/1.docx?exp=" in producer.last
    accepted = await buyer.waits_for("0900 000 111")
    status, document = await run.get(buyer.link())
    assert "/memos/1.docx" in accepted and status == 200 and document[:2] == b"PK"  # a DOCX (zip)

    await buyer.presses("Xác nhận")
    await producer.waits_for("đã xác nhận")
    await producer.presses("Xác nhận")
    assert producer.saw("Cả hai bên đã xác nhận")
    await office.says("/memos")
    await office.presses("#1")
    await office.presses("Đánh dấu đã ký")
    await buyer.waits_for("đã được ghi nhận là đã ký")
    async with services.db.session() as session:
        assert (await session.exec(select(Memo))).one().status == "signed"
    assert all(len(text) <= 2000 for text in fake.texts(buyer.user_id) + fake.texts(producer.user_id))
    assert fake.count("sendChatAction") >= 10  # "typing" while each update was handled


async def test_journey_by_polling(fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, fake, "polling") as run:
        await journey(run, fake, services)
    assert fake.count("deleteWebhook") == 1 and fake.count("setWebhook") == 0
    assert fake.count("getUpdates") > fake.count("sendMessage") / 3  # long polling, one update per answer


async def test_journey_by_webhook(fake: FakeZaloBot, db: Database) -> None:
    await load_catalogue(db)
    services = make_services(db)
    async with zalo_bot(services, fake, "webhook") as run:
        assert fake.webhook_url == run.hook and fake.count("getUpdates") == 0
        await journey(run, fake, services)


async def test_webhook_refuses_a_wrong_secret_and_processes_nothing(fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, fake, "webhook") as run:
        update = fake.update("a1", "che tan cuong")
        assert await fake.push(update, secret="not-the-secret") == 403
        assert await fake.push(update, secret="") == 403  # refused before anything is stored
        async with services.db.session() as session:
            assert (await session.exec(select(InboundUpdate))).all() == []
        assert fake.sent("a1") == [] and run.channel.inbox.processed == 0
        assert await fake.push(update) == 200
        await wait_until(lambda: bool(fake.sent("a1")))
        assert "Chè búp Tân Cương" in fake.texts("a1")[-1]


async def test_wrapped_or_flat_and_a_redelivery_answered_once(fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, fake, "webhook") as run:
        user = BotUser(run, fake, "a1")
        update = fake.update("a1", "gao st25")
        await user.sends(update)
        assert await fake.push(update, wrapped=True) == 200  # the same message again, wrapped like an API answer
        await run.channel.idle()
        assert len(fake.texts("a1")) == 1 and run.channel.inbox.processed == 1  # stored once, answered once
        replies = await user.sends(fake.update("a1", "nuoc mam phu quoc"))  # a new message, wrapped
        assert "Nước mắm Phú Quốc" in replies[0]


async def test_a_long_card_arrives_as_a_photo_and_a_second_message(fake: FakeZaloBot, services: Services) -> None:
    rows = ("Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao,Ảnh\n"
            "Mật ong rừng U Minh,HTX Ong U Minh,Cà Mau,Thực phẩm,4,https://img.example.vn/um.jpg\n")
    await import_rows(services.db, read_bytes(rows.encode(), "long.csv"))
    async with services.db.transaction() as session:
        product = (await session.exec(select(Product).where(Product.name == "Mật ong rừng U Minh"))).one()
        product.description = "\n".join(f"Đoạn {n}: " + "mật ong rừng nguyên chất, thu hoạch thủ công. " * 4 for n in range(12))
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        await user.says("mat ong u minh")
        sent = await user.presses("Mật ong rừng U Minh")
        assert 2400 < sum(map(len, sent)) < 2700  # one reply of about 2,500 characters...
        assert len(sent) == 2 and all(len(text) <= 2000 for text in sent)  # ...in two messages
        calls = fake.sent("a1")[-2:]
        assert [c.method for c in calls] == ["sendMessage", "sendPhoto"]  # the photo goes with the last part
        assert calls[1].body["photo"] == "https://img.example.vn/um.jpg"
        assert calls[0].text.startswith("Mật ong rừng U Minh") and "1. 📨 Liên hệ nhà sản xuất" in calls[1].text

        fake.refused_photos.add("https://img.example.vn/um.jpg")  # Zalo cannot fetch it: the text still goes
        await user.says("mat ong u minh")
        sent = await user.presses("Mật ong rừng U Minh")
        assert len(sent) == 2 and sent[0].startswith("Mật ong rừng U Minh")
        assert [c.method for c in fake.sent("a1")[-2:]] == ["sendMessage", "sendMessage"]


async def test_photos_stickers_and_withheld_content_get_a_polite_answer(fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        for event, extra in [("image", {"photo_url": "https://f.zalo/p.jpg"}), ("sticker", {"sticker": "s1"}),
                             ("voice", {}), ("unsupported", {})]:
            replies = await user.sends(fake.update("a1", event=event, **extra))
            assert replies == ["Mình chỉ đọc được tin nhắn chữ. Gõ tên sản phẩm bạn cần tìm, hoặc /help."]
        replies = await user.sends(fake.update("a1", event="image", photo="https://f.zalo/p.jpg", caption="che tan cuong"))
        assert "Chè búp Tân Cương" in replies[0]  # a captioned photo: the caption is read


async def test_rate_limits_are_waited_out_and_nothing_is_lost(fake: FakeZaloBot, services: Services) -> None:
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        fake.fail("sendMessage", 429, 429)
        await user.says("/help")
        assert "Xin chào!" in user.last
        attempts = [c.error for c in fake.calls if c.method == "sendMessage"]
        assert attempts == [429, 429, 0]  # two refused, the third delivered


async def test_other_errors_are_logged_with_the_request_id_and_the_user_gets_an_apology(
    fake: FakeZaloBot, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        fake.fail("sendMessage", 400)
        with caplog.at_level(logging.WARNING):
            await user.says("/help")
        refused = next(c for c in fake.calls if c.method == "sendMessage")
        request_id = refused.headers["X-Request-Id"]
        assert f"request {request_id}" in caplog.text
        assert user.last.startswith("Xin lỗi, đã có lỗi xảy ra") and request_id in user.last
        assert BOT_TOKEN not in caplog.text


async def test_polling_survives_timeouts_and_server_errors(fake: FakeZaloBot, services: Services) -> None:
    fake.fail("getUpdates", 408, 500, 502, 408)
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        await user.says("gom bat trang")
        assert "Gốm men lam Bát Tràng" in user.last


async def test_a_refused_token_stops_the_channel_with_a_clear_log_line(
    fake: FakeZaloBot, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    async with zalo_bot(services, fake) as run:
        with caplog.at_level(logging.ERROR):
            fake.token = "1234567890:reset-by-the-owner"
            await wait_until(lambda: run.channel.refused.is_set())
        assert "Zalo refused the bot token (401): check zalo.bot.token" in caplog.text
        assert "the channel is stopped" in caplog.text
        await wait_until(run.task.done, what="the channel stopped")  # its loops ended: nothing polls any more
        polls = fake.count("getUpdates")
        await fake.push(fake.update("a1", "/help"))  # waits in Zalo: nobody asks for it
        assert fake.count("getUpdates") == polls
    assert BOT_TOKEN not in caplog.text


async def test_buyers_are_understood_as_they_write_and_pick_the_closest_by_number(
    fake: FakeZaloBot, services: Services
) -> None:
    async with zalo_bot(services, fake, "polling") as run:
        buyer = BotUser(run, fake, "c7d8e9", "Minh")
        await buyer.says("alo shop, bên em cần nhập gạo ST25 khoảng 2 tấn/tháng, giá sỉ bao nhiêu ạ")
        assert "1. Gạo ST25 Mỹ Xuyên" in buyer.last
        await buyer.says("do you have fish sauce from phu quoc?")
        assert "1. Nước mắm Phú Quốc 40 độ đạm" in buyer.last
        await buyer.says("nuwowcs mawms")
        assert "1. Nước mắm Phú Quốc 40 độ đạm" in buyer.last
        await buyer.says("cần gốm, chè và gạo")
        assert "Không có sản phẩm nào khớp hết" in buyer.last
        await buyer.chooses("Chè búp Tân Cương")  # typed as its number: Zalo Bot has no buttons
        assert "OCOP ★★★★★" in buyer.last and "Liên hệ nhà sản xuất" in buyer.last


async def test_menus_never_lock_and_lists_show_once(fake: FakeZaloBot, services: Services) -> None:
    """On the Zalo Bot Platform (numbered options): a wrong number, then the right one or the option's text; a
    number at a free-text step is the value; a results list is listed once and picked by number."""
    async with zalo_bot(services, fake, "polling") as run:
        buyer = BotUser(run, fake, "e1f2a3", "Mai")
        await buyer.says("/start")
        await buyer.says("1")
        await buyer.says("Siêu thị Xanh")
        await buyer.says("9")
        assert buyer.last.startswith("Câu trả lời đó không có trong các lựa chọn.") and "1. Siêu thị" in buyer.last
        await buyer.says("Siêu thị")  # the option's own text
        assert "Hoặc gõ «Bỏ qua»." in buyer.last
        await buyer.says("bỏ qua")
        assert buyer.saw("Siêu thị Xanh đã được đăng ký là người mua")
        await buyer.says("mật ong")
        listed = buyer.last
        assert "1. Mật ong bạc hà Mèo Vạc" in listed and "1. 1." not in listed and "bấm" not in listed
        await buyer.says("1")
        assert buyer.last.startswith("Mật ong bạc hà Mèo Vạc")
        await buyer.says("2")  # "Liên hệ nhà sản xuất" is the card's first option, "Quay lại" the second
        assert "Tìm thấy" in buyer.last
        await buyer.says("1")
        await buyer.says("1")  # contact
        await buyer.says("Cần mật ong")
        await buyer.says("2")  # the volume is "2"
        await buyer.says("bỏ qua")
        assert "Sản lượng: 2" in buyer.last


async def test_a_photo_without_text_is_sent_without_a_caption(fake: FakeZaloBot, services: Services) -> None:
    """sendPhoto's caption is optional, but 1–2000 characters when given: "" would be refused."""
    async with zalo_bot(services, fake) as run:
        await run.channel.send_one("a1", Rendered("", photo="https://img.example.vn/che.jpg"), {})
        await run.channel.send_one("a1", Rendered("Chè búp", photo="https://img.example.vn/che.jpg"), {})
    photos = [c for c in fake.calls if c.method == "sendPhoto"]
    assert [c.error for c in photos] == [0, 0] and "caption" not in photos[0].body
    assert photos[1].body["caption"] == "Chè búp" and fake.count("sendMessage") == 0


async def test_an_update_without_event_name_and_an_older_sender_shape(fake: FakeZaloBot, services: Services) -> None:
    """Text without ``event_name`` is a text message; ``first_name`` names the user when ``display_name`` is absent."""
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "c0ffee")
        update = fake.update("c0ffee", "gom bat trang")
        del update["event_name"]
        sender = update["message"]["from"]
        sender["first_name"] = sender.pop("display_name") and "Minh"
        replies = await user.sends(update)
        assert "Gốm men lam Bát Tràng" in replies[0]
    async with services.db.session() as session:
        query = select(User).join(Identity).where(Identity.external_id == "c0ffee")
        assert (await session.exec(query)).one().display_name == "Minh"


async def test_undocumented_error_codes_are_logged_as_zalo_sent_them(
    fake: FakeZaloBot, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """401/403/429 are read as on Telegram (Zalo does not document them): the log shows Zalo's own answer."""
    async with zalo_bot(services, fake) as run:
        user = BotUser(run, fake, "a1")
        fake.fail("sendMessage", 429)
        with caplog.at_level(logging.WARNING):
            await user.says("/help")
        assert "Xin chào!" in user.last
    line = next(r.getMessage() for r in caplog.records if "read as too many requests" in r.getMessage())
    assert '"error_code": 429' in line and '"description": "Too Many Requests"' in line and BOT_TOKEN not in line
