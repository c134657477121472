"""The broadcast sender against the loopback Telegram and Zalo servers: rates, 429, 403, timeouts, cancelling,
paid broadcasts, and the admin's progress (one edited message on Telegram, fresh messages elsewhere)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import col, select

from bot.broadcast_sender import BroadcastSender, Lane, RecentSends, SendRate
from bot.broadcast_transports import TelegramTransport, ZaloBotTransport
from bot.channels import broadcast_channels
from bot.config import BroadcastSettings, TelegramSettings, ZaloBotSettings
from bot.links import LinkSigner
from bot.telegram import TelegramChannel
from bot.web import make_app, start_site
from bot.zalo_bot import ZaloBotChannel
from handlers.app import Conversation
from handlers.messages import Reply
from handlers.render import Rendered
from models.broadcasts import Audience, AudienceKind, Broadcast, Delivery, cancel_broadcast, create_broadcast
from models.charts import PNG_SIGNATURE
from models.db import Database
from models.notifications import Notification
from models.people import Role, User, user_for_identity
from models.stored_files import file_ref, store
from tests.chat import make_services
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import BOT_TOKEN, FakeZaloBot
from tests.loopback import serving

ADMIN = "9000"
FIRST = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with serving(FakeTelegram()) as server:
        yield server


async def people(db: Database, count: int, *, channel: str = "telegram", admin_channel: str = "telegram") -> None:
    """An admin and ``count`` buyers (chats FIRST, FIRST + 1, …; on Zalo "z1001", …)."""
    async with db.transaction() as session:
        admin = await user_for_identity(session, admin_channel, ADMIN if admin_channel == "telegram" else "office")
        admin.role = Role.ADMIN.value
        for n in range(count):
            chat = str(FIRST + n) if channel == "telegram" else f"z{FIRST + n}"
            user = await user_for_identity(session, channel, chat)
            user.role = Role.BUYER.value


async def broadcast(db: Database, text: str = "Hội chợ OCOP 2026", photo: str = "", channel: str = "telegram") -> int:
    async with db.transaction() as session:
        admin = (await session.exec(select(User).where(User.role == Role.ADMIN.value))).one()
        chat = ADMIN if channel == "telegram" else "office"
        created = await create_broadcast(session, admin, channel=channel, chat_id=chat, text=text, photo=photo,
                                         audience=Audience(AudienceKind.BUYERS), channels=broadcast_channels(),
                                         now=_now())
        return created.id or 0


def _now():  # type: ignore[no-untyped-def]
    from models.clock import SystemClock

    return SystemClock().now()


def settings(**kw: object) -> BroadcastSettings:
    values: dict[str, object] = {"retry_first_seconds": 0.2, "send_timeout_seconds": 0.5, "progress_seconds": 0.3,
                                 "lock_retry_seconds": 0.2}
    return BroadcastSettings(**{**values, **kw})  # type: ignore[arg-type]


def telegram_lane(fake: FakeTelegram, rate: float = 200, in_flight: int = 10, paid: bool = False) -> Lane:
    transport = TelegramTransport(TOKEN, fake.base_url, paid=paid, timeout=0.5, connections=in_flight + 2)
    return Lane(transport, SendRate(rate), in_flight)


async def running(sender: BroadcastSender) -> AsyncIterator[BroadcastSender]:
    task = asyncio.create_task(sender.run())
    try:
        await asyncio.wait_for(sender.elected.wait(), 10)
        yield sender
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def status_of(db: Database, broadcast_id: int) -> str:
    async with db.session() as session:
        found = await session.get(Broadcast, broadcast_id)
        return found.status if found else ""


async def finished(db: Database, broadcast_id: int) -> None:
    async def reported() -> bool:
        async with db.session() as session:
            found = await session.get(Broadcast, broadcast_id)
            return found is not None and found.status != "sending" and found.final_reported
    await until(reported)


async def deliveries(db: Database) -> dict[str, Delivery]:
    async with db.session() as session:
        return {d.external_id: d for d in (await session.exec(select(Delivery).order_by(col(Delivery.id)))).all()}


def sends(fake: FakeTelegram, method: str = "sendMessage") -> list:  # type: ignore[type-arg]
    return [c for c in fake.calls if c.method == method and c.chat_id != int(ADMIN)]


async def test_everyone_once_progress_in_one_edited_message(db: Database, fake: FakeTelegram) -> None:
    await people(db, 20)
    number = await broadcast(db, photo="https://ocop.example.vn/hoi-cho.jpg")
    sender = BroadcastSender(db, [telegram_lane(fake)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(db, number)
    photos = sends(fake, "sendPhoto")
    assert sorted(c.chat_id for c in photos) == list(range(FIRST, FIRST + 20))  # one each
    assert {(c.params["photo"], c.params["caption"]) for c in photos} == {
        ("https://ocop.example.vn/hoi-cho.jpg", "Hội chợ OCOP 2026")}
    assert {d.status for d in (await deliveries(db)).values()} == {"sent"}
    assert await status_of(db, number) == "done"

    to_admin = fake.sent_to(int(ADMIN))
    assert to_admin[0].method == "sendMessage" and "📢 Tin #1" in to_admin[0].text
    assert to_admin[0].buttons[0]["callback_data"] == f"bx:{number}"  # Stop, while it runs
    assert all(c.method == "editMessageText" for c in to_admin[1:])
    assert {int(c.params["message_id"]) for c in to_admin[1:]} == {to_admin[0].result["message_id"]}
    last = to_admin[-1]
    assert "đã gửi xong" in last.text and "Đã gửi: 20/20" in last.text and "Còn lại: 0" in last.text
    assert not last.buttons


async def test_the_rate_is_kept(sqlite_db: Database, fake: FakeTelegram) -> None:
    fake.flood_limit_per_second = 20
    await people(sqlite_db, 20)
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=12.5)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    times = [c.at for c in sends(fake)]
    assert len(times) == 20
    assert times[-1] - times[0] >= 19 / 12.5 * 0.95  # evenly spaced, no burst at the start
    assert not [c for c in fake.calls if c.method.endswith("!429")]  # never over the server's limit


async def test_429_waits_for_that_chat_only(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 10)
    fake.throttle_chat[FIRST + 2] = [1]
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=50)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    refused = next(c for c in fake.calls if c.method == "sendMessage!429")
    retried = [c for c in sends(fake) if c.chat_id == FIRST + 2]
    assert len(retried) == 1 and retried[0].at - refused.at >= 1.0  # retry_after honoured
    others = [c.at for c in sends(fake) if c.chat_id != FIRST + 2]
    assert max(others) - refused.at < 1.0  # the others were not held up
    delivery = (await deliveries(sqlite_db))[str(FIRST + 2)]
    assert (delivery.status, delivery.attempts) == ("sent", 0)  # a wait asked for is not a failed attempt


async def test_a_flood_of_429_pauses_the_whole_lane(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 8)
    for chat in range(FIRST, FIRST + 5):  # five 429s in a row
        fake.throttle_chat[chat] = [1]
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=50, in_flight=1)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    refused = [c.at for c in fake.calls if c.method == "sendMessage!429"]
    delivered = [c.at for c in sends(fake)]
    assert len(refused) == 5 and len(delivered) == 8
    assert min(delivered) - max(refused) >= 0.95  # nothing went out while the bot had to wait


async def test_blocked_users_are_marked_and_skipped(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 5)
    fake.blocked.add(FIRST + 1)
    first, second = await broadcast(sqlite_db), await broadcast(sqlite_db, "Nhắc lại: hội chợ ngày mai")
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, in_flight=1)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, first)
        await finished(sqlite_db, second)
    assert [c.chat_id for c in fake.calls if c.method == "sendMessage!403"] == [FIRST + 1]  # asked once only
    async with sqlite_db.session() as session:
        rows = (await session.exec(select(Delivery).where(Delivery.external_id == str(FIRST + 1)))).all()
        user = (await session.exec(select(User).where(User.blocked))).one()
    assert [d.status for d in rows] == ["blocked", "blocked"]
    assert user.id == rows[0].user_id
    assert "Đã chặn bot: 1" in fake.sent_to(int(ADMIN))[-1].text


async def test_timeouts_are_tried_again_then_counted_failed(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 4)
    fake.stall_chat[FIRST] = [1.0]  # the first try times out (0.5 s), the second goes through
    fake.stall_chat[FIRST + 1] = [1.0, 1.0]  # both tries time out: failed after max_attempts = 2
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake)], settings(max_attempts=2), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    found = await deliveries(sqlite_db)
    assert (found[str(FIRST)].status, found[str(FIRST)].attempts) == ("sent", 1)
    assert found[str(FIRST + 1)].status == "failed" and "TimedOut" in found[str(FIRST + 1)].last_error
    assert {found[str(FIRST + n)].status for n in (2, 3)} == {"sent"}
    assert [c.chat_id for c in sends(fake)].count(FIRST) == 1
    assert "Lỗi: 1" in fake.sent_to(int(ADMIN))[-1].text


async def test_cancelling_stops_the_sends(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 40)
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=10, in_flight=2)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await until(lambda: _true(len(sends(fake)) >= 5))
        async with sqlite_db.transaction() as session:
            admin = (await session.exec(select(User).where(User.role == Role.ADMIN.value))).one()
            await cancel_broadcast(session, admin, number, _now())
        sent_then = len(sends(fake))
        await finished(sqlite_db, number)
        await asyncio.sleep(0.5)
    assert len(sends(fake)) <= sent_then + 2  # at most those already in flight
    statuses = [d.status for d in (await deliveries(sqlite_db)).values()]
    assert statuses.count("sent") == len(sends(fake)) and statuses.count("cancelled") == 40 - len(sends(fake))
    last = fake.sent_to(int(ADMIN))[-1].text
    assert "đã dừng" in last and f"Không gửi (đã dừng): {40 - len(sends(fake))}" in last


async def _true(value: bool) -> bool:
    return value


async def test_paid_broadcasts_say_so_and_long_texts_keep_their_photo(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 3)
    text = "Thông báo chi tiết. " * 80  # longer than a caption
    number = await broadcast(sqlite_db, text.strip(), photo="https://ocop.example.vn/a.jpg")
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, paid=True)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    messages = sends(fake)
    assert len(messages) == 3 and not sends(fake, "sendPhoto")
    for call in messages:
        assert str(call.params["allow_paid_broadcast"]).lower() == "true"
        preview = call.params["link_preview_options"]
        assert "https://ocop.example.vn/a.jpg" in str(preview)
    assert "allow_paid_broadcast" not in fake.sent_to(int(ADMIN))[0].params  # the admin's report is not paid for


async def kept_picture(db: Database, data: bytes) -> str:
    async with db.transaction() as session:
        return file_ref(await store(session, "broadcast-photo.png", "image/png", data, _now(), timedelta(days=30)))


async def test_a_picture_the_admin_sent_is_uploaded_once(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 12)
    picture = PNG_SIGNATURE + b"gian hang"
    number = await broadcast(sqlite_db, photo=await kept_picture(sqlite_db, picture))
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, in_flight=6)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    photos = sends(fake, "sendPhoto")
    assert sorted(c.chat_id for c in photos) == list(range(FIRST, FIRST + 12))
    [upload] = [c for c in photos if c.files]  # the first one; the others name Telegram's copy
    assert list(upload.files.values()) == [picture] and upload.params["caption"] == "Hội chợ OCOP 2026"
    assert {c.params["photo"] for c in photos if c is not upload} == {"p1"}
    assert {d.status for d in (await deliveries(sqlite_db)).values()} == {"sent"}


async def test_zalo_recipients_fetch_the_picture_by_a_signed_link(sqlite_db: Database) -> None:
    fake = FakeZaloBot()
    await fake.start()
    services = make_services(sqlite_db)
    signer = LinkSigner("secret", "https://ocop.example.vn", timedelta(hours=1))
    channel = ZaloBotChannel(Conversation(services), ZaloBotSettings(token=BOT_TOKEN, base_url=fake.base_url),  # type: ignore[arg-type]
                             signer)
    runner, port = await start_site(make_app(services, signer), "127.0.0.1", 0)
    try:
        await people(sqlite_db, 3, channel="zalo_bot", admin_channel="console")
        picture = PNG_SIGNATURE + b"gian hang"
        number = await broadcast(sqlite_db, channel="console", photo=await kept_picture(sqlite_db, picture))
        lane = Lane(ZaloBotTransport(channel, timeout=1.0), SendRate(100), 2)
        async for _ in running(BroadcastSender(sqlite_db, [lane], settings(), poll_seconds=0.05)):
            await finished(sqlite_db, number)
        photos = [c for c in fake.calls if c.method == "sendPhoto"]
        assert sorted(c.chat_id for c in photos) == [f"z{FIRST + n}" for n in range(3)]
        [link] = {c.body["photo"] for c in photos}  # a lasting link: Zalo may fetch it again when a chat is opened
        assert link.startswith("https://ocop.example.vn/photos/") and ".png?sig=" in link and "exp=" not in link
        local = link.replace("https://ocop.example.vn", f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session, session.get(local) as response:
            assert response.status == 200 and await response.read() == picture
    finally:
        await runner.cleanup()
        await channel.stop()
        await fake.stop()


async def test_interactive_replies_come_first(sqlite_db: Database) -> None:
    recent = RecentSends()
    rate = SendRate(29, interactive=recent)
    assert rate.current() == 29
    async with serving(FakeTelegram()) as fake:
        settings = TelegramSettings(token=TOKEN, base_url=fake.base_url)  # type: ignore[arg-type]
        channel = TelegramChannel(Conversation(make_services(sqlite_db)), settings, sends=recent)
        await channel.bot.initialize()
        try:
            for chat in range(10):
                await channel.send_one(str(500 + chat), Rendered("Xin chào"), {})
            await channel.send_one("500", Rendered("", notice=True), {"callback": "q1"})  # a toast is no message
        finally:
            await channel.stop()
    assert recent.per_second() == 10
    assert rate.current() == 19  # the broadcast leaves what the replies use
    for _ in range(40):
        recent.add()
    assert rate.current() == 1  # never stops altogether
    started = time.monotonic()
    for _ in range(2):
        await rate.take()
    assert time.monotonic() - started >= 0.9  # one a second


async def test_zalo_with_429_403_and_timeouts_progress_as_fresh_messages(sqlite_db: Database) -> None:
    fake = FakeZaloBot()
    await fake.start()
    conversation = Conversation(make_services(sqlite_db))
    channel = ZaloBotChannel(conversation, ZaloBotSettings(token=BOT_TOKEN, base_url=fake.base_url),  # type: ignore[arg-type]
                             LinkSigner("secret", "https://ocop.example.vn", timedelta(hours=1)))
    try:
        await people(sqlite_db, 8, channel="zalo_bot", admin_channel="console")
        fake.fail("sendMessage", 429, 403, 408)
        number = await broadcast(sqlite_db, channel="console")
        lane = Lane(ZaloBotTransport(channel, timeout=1.0), SendRate(100), 1)
        sender = BroadcastSender(sqlite_db, [lane], settings(), poll_seconds=0.05)
        async for _ in running(sender):
            await finished(sqlite_db, number)
    finally:
        await channel.stop()
        await fake.stop()
    found = await deliveries(sqlite_db)
    assert found["z1002"].status == "blocked"
    assert {d.status for chat, d in found.items() if chat != "z1002"} == {"sent"}
    assert all(fake.texts(f"z{FIRST + n}") [-1] == "Hội chợ OCOP 2026" for n in range(8) if n != 1)
    assert (found["z1003"].attempts, found["z1001"].attempts) == (1, 0)  # 408 counted, 429 not
    async with sqlite_db.session() as session:
        admin = (await session.exec(select(User).where(User.role == Role.ADMIN.value))).one()
        notes = (await session.exec(select(Notification).where(Notification.user_id == admin.id)
                                    .order_by(col(Notification.id)))).all()
    texts = [Reply.from_json(n.payload).text for n in notes]
    assert 2 <= len(texts) <= 5  # a fresh message per quarter reached, at most, and one at the end
    assert "đã gửi xong" in texts[-1] and "Đã gửi: 7/8" in texts[-1] and "Đã chặn bot: 1" in texts[-1]


async def test_a_clean_stop_writes_every_send_it_made(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 30)
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=20, in_flight=5)], settings(), poll_seconds=0.05)
    task = asyncio.create_task(sender.run())
    await until(lambda: _true(len(sends(fake)) >= 10))
    await sender.close()
    assert task.done()  # it returned by itself
    statuses = Counter(d.status for d in (await deliveries(sqlite_db)).values())
    assert statuses["sent"] == len(sends(fake)) and statuses["pending"] == 30 - len(sends(fake))

    again = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=100)], settings(), poll_seconds=0.05)
    async for _ in running(again):
        await finished(sqlite_db, number)
    assert sorted(c.chat_id for c in sends(fake)) == list(range(FIRST, FIRST + 30))  # nobody twice
