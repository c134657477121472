"""/broadcast as the office uses it: compose → audience → preview with the count → confirm; cancel at every step;
status and stop; and every broadcast command and button refused to someone who is not an admin."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from handlers.app import Conversation
from handlers.messages import Attachment
from models.audit import AuditLog
from models.broadcasts import Broadcast, Delivery
from models.catalog import Producer
from models.charts import PNG_SIGNATURE
from models.clock import FakeClock
from models.conversation import ChatState
from models.db import Database
from models.events import EventRole, EventValues, add_event, register
from models.people import BuyerProfile, Role, user_for_identity
from models.stored_files import StoredFile, ref_id
from tests.chat import NO_BUTTONS, ChatUser, load_catalogue, make_services, picture


@dataclass(frozen=True)
class Person:
    channel: str
    external_id: str
    role: Role = Role.NONE
    regions: tuple[str, ...] = ()
    producer: str = ""
    language: str = "vi"
    blocked: bool = False


PEOPLE = (
    Person("telegram", "101", Role.BUYER, ("Đồng bằng sông Hồng",)),
    Person("telegram", "102", Role.BUYER, ("Đồng bằng sông Cửu Long",), language="en"),
    Person("zalo_bot", "z103", Role.BUYER, ("Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng")),
    Person("telegram", "201", Role.PRODUCER, producer="HTX Chè Hảo Đạt"),  # Thái Nguyên
    Person("telegram", "202", Role.PRODUCER, producer="HTX Mật ong Mèo Vạc"),  # Hà Giang, now Tuyên Quang
    Person("zalo_bot", "z203", Role.PRODUCER, producer="HTX Lúa gạo Mỹ Xuyên"),  # Sóc Trăng, now Cần Thơ
    Person("telegram", "301"),  # started the bot, never registered
    Person("telegram", "401", Role.BUYER, ("Đồng bằng sông Hồng",), blocked=True),
    Person("console", "guest", Role.BUYER, ("Đồng bằng sông Hồng",)),  # no broadcast channel
)


async def add_people(db: Database, people: tuple[Person, ...] = PEOPLE) -> dict[str, int]:
    """The people of PEOPLE in the database; their user ids by external id."""
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        for person in people:
            user = await user_for_identity(session, person.channel, person.external_id, language=person.language)
            user.role, user.blocked = person.role.value, person.blocked
            if person.producer:
                producer = (await session.exec(select(Producer).where(Producer.name == person.producer))).one()
                user.producer_id = producer.id
            if person.role is Role.BUYER:
                session.add(BuyerProfile(user_id=user.id or 0, company=f"Cty {person.external_id}",
                                         regions=list(person.regions)))
            ids[person.external_id] = user.id or 0
    return ids


_TEMPLATE: dict[str, Path] = {}


@pytest.fixture
async def conversation(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Conversation]:
    """The catalogue and PEOPLE on SQLite; built once, copied for each test (the tests here are many)."""
    if "path" not in _TEMPLATE:
        path = tmp_path_factory.mktemp("broadcast") / "template.sqlite3"
        template = Database(f"sqlite+aiosqlite:///{path}")
        await template.upgrade()
        await load_catalogue(template)
        await add_people(template)
        await template.dispose()
        _TEMPLATE["path"] = path
    shutil.copy(_TEMPLATE["path"], tmp_path / "test.sqlite3")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
    yield Conversation(make_services(db))
    await db.dispose()


def office(conversation: Conversation, **kw: object) -> ChatUser:
    return ChatUser(conversation, "office", **kw)  # type: ignore[arg-type]


async def compose(admin: ChatUser, text: str = "Hội chợ OCOP khai mạc 8h sáng thứ Bảy.", photo: str = "") -> None:
    await admin.says("/broadcast")
    assert "Gõ nội dung tin nhắn" in admin.last
    await admin.says(text)
    assert "Kèm ảnh?" in admin.last
    if photo:
        await admin.says(photo)
    else:
        await admin.presses("Bỏ qua")
    assert "Gửi cho ai?" in admin.last


async def broadcasts(db: Database) -> list[tuple[Broadcast, list[Delivery]]]:
    async with db.session() as session:
        found = (await session.exec(select(Broadcast).order_by(Broadcast.id))).all()
        return [
            (b, list((await session.exec(select(Delivery).where(Delivery.broadcast_id == b.id)
                                          .order_by(Delivery.id))).all()))
            for b in found
        ]


async def test_compose_preview_confirm_writes_the_outbox(db: Database) -> None:
    await load_catalogue(db)
    ids = await add_people(db)
    admin = office(Conversation(make_services(db)))
    await compose(admin, photo="https://ocop.example.vn/hoi-cho.jpg")
    await admin.presses("Tất cả người dùng")

    message, summary = admin.seen[-2:]
    assert message.text == "Hội chợ OCOP khai mạc 8h sáng thứ Bảy."  # the message as recipients see it
    assert "Số người nhận: 7" in summary.text  # the blocked user and the console user are left out
    assert "Telegram 5, Zalo 2" in summary.text and "người mua 3" in summary.text
    assert "Ảnh kèm theo: https://ocop.example.vn/hoi-cho.jpg" in summary.text
    assert admin.buttons() == ["✅ Gửi cho 7 người", "✏️ Đổi người nhận", "Huỷ"]
    assert await broadcasts(db) == []  # nothing is written before the confirmation

    await admin.presses("Gửi cho 7 người")
    assert "Đã bắt đầu gửi tin #1 đến 7 người" in admin.last
    [(broadcast, deliveries)] = await broadcasts(db)
    assert (broadcast.audience, broadcast.total, broadcast.status) == ("all", 7, "sending")
    assert (broadcast.admin_channel, broadcast.admin_chat_id) == ("console", "office")
    assert broadcast.photo == "https://ocop.example.vn/hoi-cho.jpg"
    recipients = {(d.channel, d.external_id) for d in deliveries}
    assert recipients == {("telegram", "101"), ("telegram", "102"), ("zalo_bot", "z103"), ("telegram", "201"),
                          ("telegram", "202"), ("zalo_bot", "z203"), ("telegram", "301")}
    assert {d.status for d in deliveries} == {"pending"}
    assert {d.user_id for d in deliveries if d.external_id == "101"} == {ids["101"]}
    async with db.session() as session:
        audit = (await session.exec(select(AuditLog).where(AuditLog.action == "broadcast.send"))).one()
    assert audit.subject == "broadcast:1" and "7" in audit.detail
    await admin.taps("bc:send")  # pressed twice: the second press is stale, nothing more is written
    assert "không còn hiệu lực" in admin.last
    assert len(await broadcasts(db)) == 1


@pytest.mark.parametrize(
    ("choose", "expected"),
    [
        (["Người mua"], {"101", "102", "z103"}),
        (["Chủ thể sản xuất"], {"201", "202", "z203"}),
        (["Theo vùng hoặc tỉnh/thành", "Đồng bằng sông Hồng"], {"101", "z103"}),
        (["Theo vùng hoặc tỉnh/thành", "Trung du và miền núi phía Bắc"], {"201", "202", "z103"}),
        (["Theo vùng hoặc tỉnh/thành", "Đồng bằng sông Cửu Long"], {"z203", "102"}),
        (["Theo vùng hoặc tỉnh/thành", "=thai nguyen"], {"201", "z103"}),
        (["Theo vùng hoặc tỉnh/thành", "=Hà Giang"], {"202", "z103"}),  # an old province: its producers only
        (["Theo vùng hoặc tỉnh/thành", "=soc trang"], {"z203", "102"}),
        (["Theo ngôn ngữ", "English"], {"102"}),
    ],
)
async def test_audiences(conversation: Conversation, choose: list[str], expected: set[str]) -> None:
    admin = office(conversation)
    await compose(admin)
    for step in choose:
        await (admin.says(step[1:]) if step.startswith("=") else admin.presses(step))
    count = len(expected)
    assert f"Số người nhận: {count} " in admin.last
    await admin.presses(f"Gửi cho {count} người")
    [(_broadcast, deliveries)] = await broadcasts(conversation.services.db)
    assert {d.external_id for d in deliveries} == expected


async def test_ambiguous_place_asks_which(conversation: Conversation) -> None:
    admin = office(conversation)
    await compose(admin)
    await admin.presses("Theo vùng hoặc tỉnh/thành")
    await admin.says("atlantis")
    assert "Không tìm thấy nơi nào tên «atlantis»" in admin.last
    await admin.says("qn")
    assert "«qn» có thể là nhiều nơi" in admin.last
    assert {"Quảng Ninh", "Quảng Ngãi"} <= set(admin.buttons())
    await admin.presses("Quảng Ninh")
    assert "chủ thể sản xuất ở Quảng Ninh và người mua quan tâm đến vùng Đồng bằng sông Hồng" in admin.last
    assert "Số người nhận: 2 " in admin.last


async def test_registrants_of_an_event(conversation: Conversation) -> None:
    db = conversation.services.db
    now = FakeClock().now()
    async with db.transaction() as session:
        event = await add_event(session, EventValues(
            "Kết nối giao thương miền Bắc", "Miền Bắc", "Hà Nội", date(2026, 12, 10), date(2026, 12, 12),
            date(2026, 12, 9)), None, now)
        for external_id, role in (("101", EventRole.BUYER), ("202", EventRole.PRODUCER)):
            user = await user_for_identity(session, "telegram", external_id)
            await register(session, user, event.id or 0, role, now)
    admin = office(conversation)
    await compose(admin)
    await admin.presses("Người đăng ký một sự kiện")
    await admin.presses("Kết nối giao thương miền Bắc (2)")
    assert "người đăng ký sự kiện «Kết nối giao thương miền Bắc»" in admin.last
    await admin.presses("Gửi cho 2 người")
    [(broadcast, deliveries)] = await broadcasts(db)
    assert broadcast.audience == f"event:{event.id}"
    assert {d.external_id for d in deliveries} == {"101", "202"}


async def test_no_event_with_registrations(conversation: Conversation) -> None:
    admin = office(conversation)
    await compose(admin)
    await admin.presses("Người đăng ký một sự kiện")
    assert "Chưa có sự kiện nào có người đăng ký" in admin.last
    await admin.presses("Đổi người nhận")
    assert "Gửi cho ai?" in admin.last


async def test_an_audience_of_nobody_cannot_be_sent(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    await add_people(sqlite_db, PEOPLE[:1])
    admin = office(Conversation(make_services(sqlite_db)))
    await compose(admin)
    await admin.presses("Theo ngôn ngữ")
    await admin.presses("English")
    assert "Không có ai để gửi: người dùng chọn English — 0 người" in admin.last
    assert not any("Gửi cho" in label for label in admin.buttons())
    await admin.taps("bc:send")
    assert "không còn hiệu lực" in admin.last
    await admin.presses("Đổi người nhận")
    await admin.presses("Người mua")
    assert "Số người nhận: 1 " in admin.last


async def test_text_and_photo_are_checked(conversation: Conversation) -> None:
    admin = office(conversation)
    await admin.says("/broadcast")
    await admin.says("x" * 2001)
    assert "2000" in admin.last and "Kèm ảnh?" not in admin.last
    await admin.says("Thông báo lịch hội chợ")
    await admin.says("ảnh ở trang web")
    assert "không phải ảnh hay đường dẫn ảnh" in admin.last
    await admin.says("https://ocop.example.vn/a b.jpg")
    assert "không phải ảnh hay đường dẫn ảnh" in admin.last
    await admin.says("https://ocop.example.vn/anh.jpg")
    assert "Gửi cho ai?" in admin.last
    await admin.says("tất cả")  # not an option's text
    assert "không có trong các lựa chọn" in admin.last and "Gửi cho ai?" in admin.last  # the menu again


async def test_a_picture_sent_from_the_phone_is_the_photo(conversation: Conversation) -> None:
    admin = office(conversation)
    await admin.says("/broadcast")
    photo = picture()
    await admin.sends_picture(photo)  # before the text: not yet
    assert admin.last.startswith("Ở bước này cần gõ câu trả lời bằng chữ.") and "nội dung tin nhắn" in admin.last
    await admin.says("Ảnh gian hàng hội chợ")
    await admin.sends_picture(b"%PDF-1.4 not a picture")
    assert "Không dùng được ảnh này: cần ảnh JPEG, PNG, GIF hoặc WebP nhỏ hơn 5 MB" in admin.last
    await admin.sends_picture(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
    assert "Không dùng được ảnh này" in admin.last
    await admin.sends_picture(PNG_SIGNATURE + b"...")  # looks like a PNG, is not one
    assert "Không dùng được ảnh này" in admin.last
    await admin.sends_picture(photo)
    assert "Gửi cho ai?" in admin.last
    await admin.presses("Người mua")
    preview = admin.seen[-2]  # the message as recipients will see it, with the picture itself
    assert preview.text == "Ảnh gian hàng hội chợ" and isinstance(preview.photo, Attachment)
    assert preview.photo.data == photo and preview.photo.mime == "image/png"
    assert "Ảnh kèm theo: ảnh bạn đã gửi" in admin.last
    await admin.presses("Gửi cho")
    [(broadcast, _)] = await broadcasts(conversation.services.db)
    kept_id = ref_id(broadcast.photo)
    async with conversation.services.db.session() as session:
        kept = await session.get(StoredFile, kept_id)
    assert kept is not None and kept.data == photo and kept.filename == "broadcast-photo.png"
    assert kept.expires_at - kept.created_at == timedelta(days=30)
    await admin.sends_picture(photo)  # no longer composing: a picture is just a picture
    assert "chỉ đọc được tin nhắn chữ" in admin.last


async def test_a_picture_goes_with_a_text_that_fits_a_caption(conversation: Conversation) -> None:
    admin = office(conversation)
    await admin.says("/broadcast")
    await admin.says("Thông báo dài. " * 80)
    await admin.sends_picture(picture("JPEG"))
    assert "tối đa 1024 ký tự" in admin.last and "dài 1199 ký tự" in admin.last
    await admin.says("https://ocop.example.vn/anh.jpg")  # a link may go with a longer text
    assert "Gửi cho ai?" in admin.last


@pytest.mark.parametrize(
    ("step", "how"),
    [("text", "/cancel"), ("text", "button"), ("photo", "huỷ"), ("photo", "button"), ("audience", "button"),
     ("place", "/cancel"), ("place", "button"), ("preview", "huỷ"), ("preview", "button")],
)
async def test_cancel_at_every_step(conversation: Conversation, step: str, how: str) -> None:
    admin = office(conversation)
    await admin.says("/broadcast")
    if step != "text":
        await admin.says("Tin thử")
    if step not in {"text", "photo"}:
        await admin.presses("Bỏ qua")
    if step == "place":
        await admin.presses("Theo vùng hoặc tỉnh/thành")
    if step == "preview":
        await admin.presses("Người mua")
    if how == "button":
        await admin.presses("Huỷ")
    else:
        await admin.says(how)
    assert admin.last.startswith("Đã huỷ")
    async with conversation.services.db.session() as session:
        state = await session.get(ChatState, ("console", "office"))
    assert state is not None and state.flow is None and state.data == {}
    await admin.taps("f:broadcast:preview:send")
    assert admin.seen[-1].notice and "hết hạn" in admin.last
    assert await broadcasts(conversation.services.db) == []


async def test_on_a_channel_without_buttons_options_are_numbered(conversation: Conversation) -> None:
    admin = ChatUser(conversation, "9000", channel="telegram", capabilities=NO_BUTTONS)
    await admin.says("/broadcast")
    await admin.says("Thông báo")
    await admin.says("1")  # Bỏ qua
    assert "1. Tất cả người dùng" in admin.last
    await admin.says("2")  # Người mua
    assert "Số người nhận: 3 " in admin.last and "1. ✅ Gửi cho 3 người" in admin.last
    await admin.says("1")
    assert "Đã bắt đầu gửi tin #1 đến 3 người" in admin.last
    [(broadcast, _)] = await broadcasts(conversation.services.db)
    assert (broadcast.admin_channel, broadcast.admin_chat_id) == ("telegram", "9000")


async def test_status_and_stop(conversation: Conversation) -> None:
    admin = office(conversation)
    await admin.says("/broadcast status")
    assert "Chưa có tin nào được gửi" in admin.last
    await admin.says("/broadcast cancel")
    assert "Không có tin nào đang được gửi" in admin.last
    await compose(admin)
    await admin.presses("Người mua")
    await admin.presses("Gửi cho 3 người")

    await admin.says("/broadcast status")
    assert "📢 Tin #1 — đang gửi" in admin.last and "Đã gửi: 0/3" in admin.last and "Còn lại: 3" in admin.last
    assert admin.buttons() == ["⏹ Dừng gửi"]
    await admin.presses("Dừng gửi")  # under a progress message: asks first
    assert "Dừng tin #1? Đã gửi 0/3; 3 người chưa nhận" in admin.last
    await admin.says("/broadcast cancel")
    assert admin.buttons() == ["⏹ Dừng tin #1 (0/3)"]
    await admin.presses("Dừng tin #1")
    assert "📢 Tin #1 — đã dừng" in admin.last and "Không gửi (đã dừng): 3" in admin.last
    [(broadcast, deliveries)] = await broadcasts(conversation.services.db)
    assert broadcast.status == "cancelled" and {d.status for d in deliveries} == {"cancelled"}
    await admin.taps("bx:1:y")
    assert "không còn hiệu lực" in admin.last
    await admin.taps("bx:1")
    assert "không còn hiệu lực" in admin.last
    await admin.says("/broadcast stats")
    assert "/broadcast status" in admin.last  # an unknown word: the usage
    async with conversation.services.db.session() as session:
        actions = (await session.exec(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["broadcast.send", "broadcast.cancel"]


@pytest.mark.parametrize(
    "attempt",
    ["/broadcast", "/broadcast status", "/broadcast cancel", "f:broadcast:photo:skip", "f:broadcast:audience:all",
     "f:broadcast:place:0", "f:broadcast:which:0", "f:broadcast:language:en", "f:broadcast:event:1",
     "f:broadcast:preview:back", "f:broadcast:preview:send", "bx:1", "bx:1:y"],
)
async def test_refused_to_non_admins(conversation: Conversation, attempt: str) -> None:
    admin = office(conversation)
    await compose(admin)
    await admin.presses("Người mua")
    await admin.presses("Gửi cho 3 người")  # broadcast #1 exists and is being sent
    buyer = ChatUser(conversation, "101", channel="telegram")
    await (buyer.says(attempt) if attempt.startswith("/") else buyer.taps(attempt))
    assert buyer.last == "Xin lỗi, bạn không có quyền thực hiện thao tác này."
    async with conversation.services.db.session() as session:
        state = await session.get(ChatState, ("telegram", "101"))
    assert state is None or state.flow is None
    [(broadcast, deliveries)] = await broadcasts(conversation.services.db)
    assert broadcast.status == "sending" and {d.status for d in deliveries} == {"pending"}
