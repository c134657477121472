"""The Zalo Official Account channel against the loopback fake: signed events, query buttons, the whole journey,
OAuth tokens that rotate and survive restarts, and the 7-day window."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.zalo_oa import ZaloOAChannel
from handlers.app import Conversation
from handlers.context import Services
from models.catalog_import import import_rows
from models.clock import FakeClock
from models.db import Database
from models.inbox import InboundUpdate
from models.memos import Memo
from models.notifications import Notification
from models.people import Identity
from models.tabular import read_bytes
from models.zalo import ZaloToken
from tests.chat import ChatUser, claim_producer, load_catalogue, make_services, register_buyer, request_contact
from tests.fake_zalo import APP_ID, FIRST_REFRESH, OA_ID, FakeZaloOA, wait_until
from tests.loopback import serving
from tests.zalo_users import OAUser, oa_settings, signer, zalo_oa


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloOA]:
    async with serving(FakeZaloOA()) as server:
        yield server


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load_catalogue(sqlite_db)
    return make_services(sqlite_db)


async def test_the_whole_journey_with_query_buttons(fake: FakeZaloOA, db: Database) -> None:
    await load_catalogue(db)
    services = make_services(db)
    office = ChatUser(Conversation(services), "office")
    async with zalo_oa(services, fake) as run:
        buyer, producer = OAUser(run, fake, "3001000000000000001"), OAUser(run, fake, "3002000000000000002")
        await office.says("/claimcode HTX Mật ong Mèo Vạc")
        await office.presses("Cấp mã")
        code = office.last.split(": ")[1].split("\n")[0]
        await producer.sends(fake.event("follow", producer.user_id))  # following the OA starts the onboarding
        titles = [b["title"] for b in fake.sent(producer.user_id)[-1].buttons]
        assert titles == ["Tôi là người mua (siêu thị, nhà phân phối…)", "Tôi là chủ thể sản xuất OCOP"]
        await producer.presses("chủ thể sản xuất")
        await producer.says("meo vac")
        await producer.presses("HTX Mật ong Mèo Vạc")
        await producer.says(code)
        assert producer.saw("Xác nhận thành công")

        await buyer.says("/start")
        button = fake.sent(buyer.user_id)[-1].buttons[0]
        assert button == {"title": "Tôi là người mua (siêu thị, nhà phân phối…)", "type": "oa.query.hide",
                          "payload": "#f:onboard:role:buyer"}  # hidden: "#f:…" is not echoed in the chat
        assert fake.sent(buyer.user_id)[-1].template == "button"
        await buyer.presses("người mua")
        await buyer.says("Siêu thị Xanh")
        assert "1. Siêu thị" in buyer.last  # seven kinds: more than five buttons, so numbered options
        await buyer.presses("Siêu thị")
        assert fake.sent(buyer.user_id)[-1].template == "request_user_info"  # Zalo's own "share your phone" form
        await buyer.shares_phone("84912345678")
        assert buyer.saw("Siêu thị Xanh đã được đăng ký là người mua")

        await buyer.says("mat ong ha giang")
        await buyer.presses("Mật ong bạc hà")
        await buyer.presses("Liên hệ nhà sản xuất")
        await buyer.says("Cần 300 chai mỗi tháng cho chuỗi cửa hàng")
        await buyer.presses("Bỏ qua")
        await buyer.presses("Bỏ qua")
        await buyer.presses("Gửi yêu cầu")
        assert buyer.saw("Đã gửi yêu cầu #1")

        await producer.waits_for("Yêu cầu liên hệ mới #1")
        await producer.presses("Chấp nhận")
        assert "84912345678" in producer.last and "/memos/1.docx?exp=" in producer.last
        await buyer.waits_for("0900 000 111")
        status, document = await run.get(buyer.link())
        assert status == 200 and document[:2] == b"PK"
        await buyer.presses("Xác nhận")
        await producer.waits_for("đã xác nhận")
        await producer.presses("Xác nhận")
        await office.says("/memos")
        await office.presses("#1")
        await office.presses("Đánh dấu đã ký")
        await buyer.waits_for("đã được ghi nhận là đã ký")
    async with db.session() as session:
        assert (await session.exec(select(Memo))).one().status == "signed"
    assert all(len(call.buttons) <= 5 for call in fake.calls if call.method == "message/cs")


async def test_forged_and_unsigned_posts_get_200_and_are_dropped(fake: FakeZaloOA, services: Services) -> None:
    """Zalo retries any answer but 200 for an hour and then marks the webhook unreachable: a post that is not
    Zalo's is answered 200 too, and dropped before it is stored; /healthz counts them."""
    async with zalo_oa(services, fake) as run:
        assert run.channel.dropped == {"unsigned": 1}  # the console's URL check, when the fixture saved the URL
        event = fake.text("3001", "che tan cuong")
        raw = json.dumps(event).encode()
        good = fake.signature(raw, event["timestamp"])
        forged = [
            "", "mac=", "mac=" + "0" * 64, fake.signature(raw, event["timestamp"], key="guessed-key"),
            fake.signature(raw + b" ", event["timestamp"]), fake.signature(raw, str(int(event["timestamp"]) + 1)),
        ]
        for signature in forged:
            assert await fake.push(run.hook, event, signature=signature) == 200  # answered, not stored
        assert await fake.post(run.hook, b'{"timestamp": "1754000000000", "event_name": ', "1754000000000") == 200
        async with services.db.session() as session:
            assert (await session.exec(select(InboundUpdate))).all() == []
        assert fake.sent("3001") == [] and run.channel.inbox.processed == 0
        status, body = await run.get(run.base + "/healthz")
        health = json.loads(body)["zalo_oa"]
        assert status == 200 and health["events_dropped"] == {"unsigned": 2, "forged": 5, "unreadable": 1}
        assert health["webhook_key"] is True and health["buttons"] is True

        user = OAUser(run, fake, "3001")
        assert good.startswith("mac=")
        replies = await user.sends(event)
        assert "Chè búp Tân Cương" in replies[0]
        # Sources disagree on the header's form and on the id hashed first: every variant is accepted.
        variant = fake.text("3001", "gao st25")
        raw = json.dumps(variant).encode()
        assert await fake.push(run.hook, variant, signature=fake.signature(raw, variant["timestamp"])[4:]) == 200
        variant = fake.text("3001", "gom bat trang")
        raw = json.dumps(variant).encode()
        signed_with_oa_id = fake.signature(raw, variant["timestamp"], app_id=OA_ID)
        assert await fake.push(run.hook, variant, signature=signed_with_oa_id) == 200
        await wait_until(lambda: run.channel.inbox.processed == 3)
        await run.channel.idle()
        assert "Gốm men lam" in user.last


async def test_a_repeated_event_is_answered_once_and_acknowledged_once_stored(
    fake: FakeZaloOA, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with zalo_oa(services, fake) as run:
        conversation = run.channel.conversation
        handle = conversation.handle_stored
        handling = asyncio.Event()

        async def held(*args: object, **kwargs: object) -> bool:
            await handling.wait()  # the handling waits until both deliveries were acknowledged
            return await handle(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(conversation, "handle_stored", held)
        event = fake.text("3001", "gao st25", msg_id="a" * 32)
        assert await fake.push(run.hook, event) == 200  # acknowledged before it is handled...
        assert await fake.push(run.hook, event) == 200
        async with services.db.session() as session:  # ...and after it was stored, once
            stored = (await session.exec(select(InboundUpdate))).all()
        assert [(u.update_key, u.handled_at) for u in stored] == [(f"user_send_text:{'a' * 32}", None)]
        handling.set()
        await wait_until(lambda: run.channel.inbox.processed == 1)
        await run.channel.idle()
        assert len(fake.texts("3001")) == 1 and "Gạo ST25" in fake.texts("3001")[0]


async def test_follow_images_files_and_stickers(fake: FakeZaloOA, services: Services) -> None:
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        image = {"attachments": [{"type": "image", "payload": {"url": "https://f.zalo/i.jpg"}}], "msg_id": fake.msg_id()}
        assert "chỉ đọc được tin nhắn chữ" in (await user.sends(fake.event("user_send_image", "3001", message=image)))[0]
        sticker = {"attachments": [{"type": "sticker", "payload": {"id": "x"}}], "msg_id": fake.msg_id()}
        assert "chỉ đọc được tin nhắn chữ" in (await user.sends(fake.event("user_send_sticker", "3001", message=sticker)))[0]
        file = {"attachments": [{"type": "file", "payload": {"name": "bao-gia.xlsx"}}], "msg_id": fake.msg_id()}
        assert "chưa nhận tệp tin" in (await user.sends(fake.event("user_send_file", "3001", message=file)))[0]
        captioned = {**image, "text": "nuoc mam phu quoc", "msg_id": fake.msg_id()}
        assert "Nước mắm Phú Quốc" in (await user.sends(fake.event("user_send_image", "3001", message=captioned)))[0]
        assert "Chào mừng bạn" in (await user.sends(fake.event("follow", "3001")))[0]  # a follower is welcomed
        assert await fake.push(run.hook, fake.event("unfollow", "3001")) == 200
        assert await fake.push(run.hook, fake.event("oa_send_text", "3001", message={"text": "hi"})) == 200
        await run.channel.idle()
        assert run.channel.inbox.processed == 5  # unfollow and the OA's own messages need no answer: not stored
        async with services.db.session() as session:
            assert len((await session.exec(select(InboundUpdate))).all()) == 5
        await user.says("#zz:1")  # looks like a button payload but is no action of ours: just text
        assert "mã lỗi" not in user.last


async def test_a_card_with_a_photo(fake: FakeZaloOA, services: Services) -> None:
    rows = ("Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao,Ảnh\n"
            "Mật ong rừng U Minh,HTX Ong U Minh,Cà Mau,Thực phẩm,4,https://img.example.vn/um.jpg\n")
    await import_rows(services.db, read_bytes(rows.encode(), "photo.csv"))
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("mat ong u minh")
        await user.presses("Mật ong rừng U Minh")
        photo, card = fake.sent("3001")[-2:]
        assert photo.template == "media" and "img.example.vn/um.jpg" in json.dumps(photo.body)
        assert card.text.startswith("Mật ong rừng U Minh") and card.buttons[0]["title"] == "📨 Liên hệ nhà sản xuất"
        fake.refused_photos.add("https://img.example.vn/um.jpg")  # Zalo cannot fetch it: the card still goes
        await user.presses("Quay lại")
        await user.presses("Mật ong rừng U Minh")
        assert fake.sent("3001")[-1].text.startswith("Mật ong rừng U Minh") and user.last.startswith("Mật ong")


async def test_an_invalid_token_is_refreshed_and_the_rotation_survives_a_restart(fake: FakeZaloOA, db: Database) -> None:
    await load_catalogue(db)
    services = make_services(db)
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/help")  # no access token yet: refreshed with the configured refresh token first
        assert fake.refreshes == 1 and "Xin chào!" in user.last
        fake.expire_access()  # Zalo answers -216
        await user.says("gao st25")
        assert fake.refreshes == 2 and "Gạo ST25" in user.last
        fake.failures.append(-220)  # "expired" works the same way
        await user.says("che tan cuong")
        assert fake.refreshes == 3 and "Chè búp" in user.last
    async with db.session() as session:
        stored = await session.get(ZaloToken, APP_ID)
        assert stored is not None and (stored.access_token, stored.refresh_token) == ("access-3", "refresh-3")
        assert stored.expires_at == services.clock.now() + timedelta(seconds=90000)

    # A restart with the same configuration: the first refresh token was spent long ago; the stored one is used.
    fake.expire_access()
    async with zalo_oa(make_services(db), fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/help")
        assert "Xin chào!" in user.last and fake.refreshes == 4
    refused = [c for c in fake.calls if c.method == "access_token" and c.body["refresh_token"] == FIRST_REFRESH]
    assert len(refused) == 1  # only the very first refresh used the configured token

    # The operator re-authorised the app and configured a new refresh token: it replaces the stored one.
    fake.refresh_token = "re-authorised"
    fake.expire_access()
    async with zalo_oa(make_services(db), fake, refresh_token="re-authorised") as run:
        await OAUser(run, fake, "3001").says("/help")
        assert fake.refreshes == 5


async def test_tokens_are_refreshed_ahead_of_expiry_once_for_everyone(fake: FakeZaloOA, sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    clock = FakeClock()
    services = make_services(sqlite_db, clock)
    fake.expires_in = 90000  # a number this time
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/help")
        assert fake.refreshes == 1
        clock.advance(hours=24, minutes=45)  # 15 minutes left: inside the 30 minutes ahead
        fake.refresh_delay = 0.2
        calls = len(fake.calls)
        await asyncio.gather(*(run.channel.message(user.user_id, {"text": f"tin {n}"}) for n in range(6)))
        assert fake.refreshes == 2  # six senders, one refresh
        assert [c.error for c in fake.calls[calls:] if c.method == "message/cs"] == [0] * 6  # none refused first


async def test_a_refused_refresh_stops_the_channel_with_a_clear_log_line(
    fake: FakeZaloOA, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    fake.refresh_token = "revoked-by-zalo"
    with caplog.at_level(logging.WARNING):
        async with zalo_oa(services, fake) as run:
            await wait_until(lambda: run.channel.refused.is_set())  # the first refresh, at start, is refused
            assert await fake.push(run.hook, fake.text("3001", "/help")) == 200  # kept for when it runs again
            assert fake.count("message/cs") == 0
    assert "Zalo refused to refresh the OA tokens" in caplog.text and "zalo.oa.refresh_token" in caplog.text
    assert "the channel is stopped" in caplog.text
    assert FIRST_REFRESH not in caplog.text
    async with services.db.session() as session:
        assert [u.handled_at for u in (await session.exec(select(InboundUpdate))).all()] == [None]

    # The operator re-authorised the app: the event that came while it was stopped is answered.
    fake.refresh_token = "re-authorised"
    async with zalo_oa(services, fake, refresh_token="re-authorised") as run:
        await wait_until(lambda: bool(fake.texts("3001")), what="the kept event answered")
        assert "Xin chào!" in fake.texts("3001")[0]


async def test_rate_limits_are_waited_out(fake: FakeZaloOA, services: Services) -> None:
    """-32 waits until Zalo's minute starts again: at 10:00:59.8 that is 1.2 s (the minute's end, plus a second)."""
    services = replace(services, clock=FakeClock(datetime(2026, 11, 30, 3, 0, 59, 800_000, tzinfo=UTC)))
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/help")
        fake.failures.extend([-32, -32])
        await user.says("gao st25")
        assert "Gạo ST25" in user.last
        assert [c.error for c in fake.calls if c.method == "message/cs"][-3:] == [-32, -32, 0]


async def test_outside_the_7_day_window_the_notice_waits_and_admins_are_told(
    fake: FakeZaloOA, services: Services
) -> None:
    """The producer is on Zalo OA, the buyer on the console (Telegram is the other cross-channel case)."""
    conversation = Conversation(services)
    office, buyer = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    async with zalo_oa(services, fake) as run:
        producer = OAUser(run, fake, "3002")
        await office.says("/claimcode HTX Chè Hảo Đạt")
        await office.presses("Cấp mã")
        code = office.last.split(": ")[1].split("\n")[0]
        for step in ["/start", "#f:onboard:role:producer", "hao dat"]:
            await producer.says(step)
        await producer.presses("HTX Chè Hảo Đạt")
        await producer.says(code)
        await register_buyer(buyer)

        fake.outside_window.add("3002")  # the producer has not written for 7 days
        await request_contact(buyer, "che tan cuong", "Chè búp")
        told = await office_told(office)
        assert "Không gửi được tin nhắn cho" in told and "Zalo OA" in told and "Yêu cầu liên hệ mới #1" in told
        tries = len(fake.calls)
        rounds = run.channel.pumped
        await wait_until(lambda: run.channel.pumped >= rounds + 3, what="three pump rounds")
        await run.channel.idle()
        assert len(fake.calls) == tries  # the held notice is not tried again and again
        async with services.db.session() as session:
            notice = (await session.exec(select(Notification).where(col(Notification.last_error).like("held:%")))).one()
            assert notice.delivered_at is None
            identity = (await session.exec(select(Identity).where(Identity.external_id == "3002"))).one()
            assert identity.unreachable_since is not None

        fake.outside_window.clear()
        await producer.says("/help")  # they write again: the window opens and the notice follows
        await producer.waits_for("Yêu cầu liên hệ mới #1")
        await producer.presses("Chấp nhận")
        got = await buyer.receive()
        assert "0900 000 222" in got[-1].text and got[-1].document is not None


async def office_told(office: ChatUser) -> str:
    for _ in range(100):
        got = await office.receive()
        if got:
            return got[-1].text
        await asyncio.sleep(0.05)
    raise AssertionError("the office was not told")


async def test_producer_on_zalo_buyer_on_the_console(fake: FakeZaloOA, sqlite_db: Database) -> None:
    """Cross-channel, with the real Zalo OA adapter for the producer; the Telegram channel is tested by its own
    suite, the console stands in for the other channel here."""
    await load_catalogue(sqlite_db)
    services = make_services(sqlite_db)
    conversation = Conversation(services)
    office, buyer = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    async with zalo_oa(services, fake) as run:
        producer = OAUser(run, fake, "3002")
        await claim_producer(office, producer, "HTX Mật ong Mèo Vạc")
        await register_buyer(buyer)
        await request_contact(buyer, "mat ong ha giang", "Mật ong bạc hà")
        await producer.waits_for("Yêu cầu liên hệ mới #1")
        await producer.presses("Chấp nhận")
        assert "0912 345 678" in producer.last
        status, _ = await run.get(producer.link())
        assert status == 200
        accepted = (await buyer.receive())[-1]
        assert "0900 000 111" in accepted.text and accepted.document is not None  # the console gets the file
        await buyer.presses("Xác nhận")
        await producer.waits_for("đã xác nhận")
        await producer.presses("Xác nhận")
        assert any("Cả hai bên đã xác nhận" in m.text for m in await buyer.receive())


def test_ids_stay_strings(services: Services) -> None:
    """Zalo ids exceed 2**53: they are read and kept as the strings they are, never as numbers."""
    channel = ZaloOAChannel(Conversation(services), oa_settings(FakeZaloOA()), signer())
    event = json.loads('{"event_name":"user_send_text","sender":{"id":"5397837493825640001"},'
                       '"timestamp":"1750316131602","message":{"text":"#p:3","msg_id":"9a1"}}')
    parsed = channel.to_incoming(event)
    assert parsed is not None
    incoming, key = parsed
    assert (incoming.user_id, incoming.chat_id, incoming.action, key) == (
        "5397837493825640001", "5397837493825640001", "p:3", "user_send_text:9a1")
