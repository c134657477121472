"""The flow engine, flow by flow: a wrong answer at every step is said and the question asked again (its menu
shown again), then the right answer completes the flow. On a channel without buttons, as on the Zalo Bot Platform,
so that numbers, option texts and words are what is typed. Plus expiry and the rules of what a number means."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from handlers import actions, app, flow
from handlers.app import Conversation
from models.broadcasts import Broadcast
from models.catalog import Product
from models.clock import FakeClock
from models.db import Database
from models.events import Event
from models.people import BuyerProfile, User
from models.requests import ContactRequest
from tests.chat import NO_BUTTONS, ChatUser, load_catalogue, make_services, register_buyer

WRONG = "Câu trả lời đó không có trong các lựa chọn."


@pytest.fixture
async def conversation(sqlite_db: Database) -> Conversation:
    await load_catalogue(sqlite_db)
    return Conversation(make_services(sqlite_db, FakeClock()))


def zalo(conversation: Conversation, name: str) -> ChatUser:
    return ChatUser(conversation, name, channel="zalo_bot", capabilities=NO_BUTTONS)


async def wrong_then_right(user: ChatUser, wrong: str, why: str, question: str, right: str) -> None:
    """A wrong answer is said, with the same question (and its menu) again; the right one is then taken."""
    await user.says(wrong)
    assert user.last.startswith(why), user.last
    assert question in user.last, user.last
    await user.says(right)


async def test_buyer_onboarding(conversation: Conversation) -> None:
    lan = zalo(conversation, "lan")
    await lan.says("/start")
    await wrong_then_right(lan, "9", WRONG, "1. Tôi là người mua", "1")
    await wrong_then_right(lan, "x" * 201, "Tin nhắn quá dài", "Tên doanh nghiệp", "Siêu thị Xanh")
    await wrong_then_right(lan, "0", WRONG, "1. Siêu thị", "Siêu thị")
    await wrong_then_right(lan, "gọi tôi nhé", "Số điện thoại chưa đúng", "Chia sẻ số điện thoại", "0912 345 678")
    assert lan.saw("Siêu thị Xanh đã được đăng ký là người mua")
    await lan.says("2")  # the optional regions: "Đồng bằng sông Hồng"
    await lan.says("xong")
    assert lan.saw("Đã lưu các vùng bạn quan tâm")
    async with conversation.services.db.session() as session:
        profile = (await session.exec(select(BuyerProfile))).one()
    assert (profile.company, profile.kind, profile.regions) == ("Siêu thị Xanh", "supermarket", ["Đồng bằng sông Hồng"])


async def test_an_optional_question_left_unanswered_does_not_hold_a_search(conversation: Conversation) -> None:
    lan = zalo(conversation, "lan")
    await register_buyer(lan, phone="")
    await lan.says("/start")
    for answer in ("1", "Siêu thị Xanh", "1", "bỏ qua"):
        await lan.says(answer)
    assert "vùng nào" in lan.last
    await lan.says("che tan cuong")  # not an answer: a search, at once
    assert "Chè búp Tân Cương" in lan.last


async def test_producer_claim(conversation: Conversation) -> None:
    office, hao = ChatUser(conversation, "office"), zalo(conversation, "hao")
    await office.says("/claimcode HTX Chè Hảo Đạt")
    await office.presses("Cấp mã")
    code = office.last.split(": ")[1].split("\n")[0]
    await hao.says("/start")
    await wrong_then_right(hao, "3", WRONG, "2. Tôi là chủ thể sản xuất OCOP", "2")
    await wrong_then_right(hao, "zzqq xxww", "Không tìm thấy chủ thể", "Gõ tên chủ thể", "hao dat")
    await wrong_then_right(hao, "7", WRONG, "1. HTX Chè Hảo Đạt", "1")
    await wrong_then_right(hao, "WRONG123", "Mã không đúng", "Nhập mã nhận hồ sơ", code)
    assert hao.saw("Xác nhận thành công")


async def test_contact_request(conversation: Conversation) -> None:
    lan = zalo(conversation, "lan")
    await register_buyer(lan)
    await lan.says("che tan cuong")
    await lan.says("1")
    await lan.presses("Liên hệ nhà sản xuất")
    await wrong_then_right(lan, "a" * 1001, "Tin nhắn quá dài", "Viết lời nhắn", "Cần hàng cho Tết")
    await wrong_then_right(lan, "b" * 201, "Tin nhắn quá dài", "Sản lượng dự kiến", "1")  # "1" is the volume
    await wrong_then_right(lan, "c" * 201, "Tin nhắn quá dài", "Thời vụ", "bỏ qua")
    assert "Sản lượng: 1" in lan.last
    await wrong_then_right(lan, "5", WRONG, "Kiểm tra lại yêu cầu", "1")
    assert lan.saw("Đã gửi yêu cầu #1")
    async with conversation.services.db.session() as session:
        request = (await session.exec(select(ContactRequest))).one()
    assert (request.message, request.volume, request.season) == ("Cần hàng cho Tết", "1", "")


async def test_new_event_and_editing_it(conversation: Conversation) -> None:
    office = zalo(conversation, "office")
    conversation.services.admin_ids["zalo_bot"] = frozenset({"office"})
    await office.says("/event new")
    await wrong_then_right(office, "x" * 301, "Tên sự kiện không được để trống", "Tên sự kiện là gì?", "Hội chợ Tết")
    await wrong_then_right(office, "Sao Hoả", "Không nhận ra vùng này", "1. Trung du", "2")
    await wrong_then_right(office, "y" * 301, "Địa điểm không được để trống", "Địa điểm tổ chức", "Hoàng Thành")
    await wrong_then_right(office, "32/12/2026", "Không đọc được ngày", "Ngày tổ chức", "10/01/2027 - 11/01/2027")
    await wrong_then_right(office, "sớm", "Không đọc được ngày", "Hạn đăng ký", "bỏ qua")
    await wrong_then_right(office, "z" * 2001, "Tin nhắn quá dài", "Mô tả", "Gian hàng Tết")
    await wrong_then_right(office, "9", WRONG, "1. Lưu sự kiện", "1")
    assert office.saw("Đã tạo sự kiện «Hội chợ Tết»")
    await office.says("/event edit 1")
    await office.says("3")  # Địa điểm
    await wrong_then_right(office, "v" * 301, "Địa điểm không được để trống", "Địa điểm tổ chức", "Cung Văn hoá Hữu nghị")
    assert office.saw("Đã cập nhật «Hội chợ Tết»")
    async with conversation.services.db.session() as session:
        event = (await session.exec(select(Event))).one()
    assert (event.theme, event.venue, event.description) == ("Đồng bằng sông Hồng", "Cung Văn hoá Hữu nghị",
                                                             "Gian hàng Tết")


async def test_broadcast(conversation: Conversation) -> None:
    office = zalo(conversation, "office")
    conversation.services.admin_ids["zalo_bot"] = frozenset({"office"})
    await register_buyer(zalo(conversation, "lan"))
    await office.says("/broadcast")
    await wrong_then_right(office, "t" * 2001, "Tin nhắn quá dài", "Gửi tin đến nhiều người", "Hội chợ Tết sắp mở")
    await wrong_then_right(office, "ảnh đẹp", "Đó không phải ảnh", "Kèm ảnh?", "1")  # 1: Bỏ qua (a menu here)
    await wrong_then_right(office, "9", WRONG, "Gửi cho ai?", "4")  # Theo vùng hoặc tỉnh/thành
    await wrong_then_right(office, "Sao Hoả", "Không tìm thấy nơi nào tên «Sao Hoả»", "Chọn một vùng", "qn")
    await wrong_then_right(office, "9", WRONG, "«qn» có thể là nhiều nơi", "Quảng Ninh")  # ambiguous: which?
    await wrong_then_right(office, "9", WRONG, "Số người nhận", "2")  # back to the audience
    await office.says("2")  # Người mua
    await office.says("1")  # Gửi
    assert office.saw("Đã bắt đầu gửi tin #1")
    async with conversation.services.db.session() as session:
        broadcast = (await session.exec(select(Broadcast))).one()
    assert broadcast.audience == "buyers" and broadcast.total == 1


async def test_stars_and_link(conversation: Conversation) -> None:
    office = zalo(conversation, "office")
    conversation.services.admin_ids["zalo_bot"] = frozenset({"office"})
    await office.taps(actions.EditStars(1).encode())
    await wrong_then_right(office, "9", WRONG, "Hạng sao mới?", "3★")  # 3★, 4★, 5★: by its text
    assert office.saw("giờ có 3 sao")
    async with conversation.services.db.session() as session:
        assert (await session.get(Product, 1)).stars == 3  # type: ignore[union-attr]

    lan, z_lan = ChatUser(conversation, "lan"), zalo(conversation, "z-lan")
    await lan.says("/link")
    code = re.search(r"/link (\w+)", lan.last).group(1)  # type: ignore[union-attr]
    await z_lan.says(f"/link {code}")
    await wrong_then_right(z_lan, "9", WRONG, "Gộp tài khoản", "1")
    assert z_lan.saw("Đã liên kết")


async def test_a_flow_left_alone_expires(conversation: Conversation) -> None:
    clock: FakeClock = conversation.services.clock  # type: ignore[assignment]
    lan = zalo(conversation, "lan")
    await lan.says("/start")
    await lan.says("1")
    clock.advance(hours=23)
    await lan.says("Siêu thị Xanh")  # within the day: still the question
    assert "thuộc loại nào" in lan.last
    clock.advance(hours=25)
    await lan.says("che tan cuong")
    assert lan.seen[-2].text.startswith("Thao tác dở dang đã để quá 24 giờ")  # said first
    assert "Chè búp Tân Cương" in lan.last  # then the message is handled as a search
    await lan.taps("f:onboard:kind:supermarket")  # a button of the ended flow
    assert "hết hạn" in lan.last
    async with conversation.services.db.session() as session:
        assert (await session.exec(select(User).where(User.display_name == "Lan"))).one().role == "none"


async def test_expiry_is_configurable(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    services = make_services(sqlite_db, FakeClock())
    services.flow_ttl = timedelta(minutes=30)
    lan = zalo(Conversation(services), "lan")
    await lan.says("/start")
    services.clock.advance(minutes=31)  # type: ignore[attr-defined]
    await lan.says("1")
    assert lan.seen[-2].text.startswith("Thao tác dở dang đã để quá 0 giờ") or "Thao tác dở dang" in lan.seen[-2].text


def test_every_flow_step_is_reachable_and_every_record_has_a_handler() -> None:
    for name, registered in flow.FLOWS.items():
        assert registered.name == name and registered.steps
        for step in registered.steps:
            if isinstance(step.then, str):
                assert registered.step(step.then) is not None, (name, step.name, step.then)
    records = {cls for cls in actions._RECORDS.values()}
    assert records == set(app.ACTIONS), records ^ set(app.ACTIONS)


def test_payloads_round_trip_and_stay_short() -> None:
    for record in (actions.ShowProduct(12), actions.Answer("broadcast", "language", "en"), actions.Browse("r", "all"),
                   actions.Browse(), actions.CancelEvent(3, "yes"), actions.StopBroadcast(99999999)):
        payload = record.encode()
        assert actions.decode(payload) == record and len(payload.encode()) <= 64
    assert actions.Browse().encode() == "b:start"
