"""Whole conversations, as people have them: buyers search and ask, producers consent, memos get drafted."""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers.app import Conversation
from models.clock import FakeClock
from models.db import Database
from models.memos import Memo
from models.people import User
from models.requests import ContactRequest
from tests.chat import (
    BUTTONS,
    NO_BUTTONS,
    ChatUser,
    claim_producer,
    load_catalogue,
    make_services,
    register_buyer,
    request_contact,
)


@pytest.fixture
async def conversation(sqlite_db: Database) -> Conversation:
    await load_catalogue(sqlite_db)
    return Conversation(make_services(sqlite_db))


def person(conversation: Conversation, name: str, **kw: object) -> ChatUser:
    return ChatUser(conversation, name, **kw)  # type: ignore[arg-type]


async def test_buyer_to_signed_memo(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    buyer, producer, office = (person(conversation, n) for n in ("lan", "hao", "office"))
    await register_buyer(buyer)
    assert buyer.saw("Siêu thị Xanh đã được đăng ký là người mua")
    await claim_producer(office, producer, "HTX Mật ong Mèo Vạc")

    await buyer.says("mat ong ha giang")
    assert "Mật ong bạc hà Mèo Vạc" in buyer.last
    await buyer.presses("Mật ong bạc hà")
    card = buyer.last
    assert "OCOP ★★★★" in card and "Tuyên Quang (Hà Giang)" in card and "45/QĐ-UBND" in card
    assert "còn hiệu lực đến 02/11/2027" in card
    assert "0900 000 111" not in card and "matong@example.com" not in card  # no contact details on cards

    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.says("Chúng tôi cần mật ong cho 20 cửa hàng")
    await buyer.says("300 chai/tháng")
    await buyer.says("Tết 2027")
    assert "Tết 2027" in buyer.last and "300 chai/tháng" in buyer.last
    await buyer.presses("Gửi yêu cầu")
    assert buyer.saw("Đã gửi yêu cầu #1")

    notice = (await producer.receive())[-1]
    assert "Yêu cầu liên hệ mới #1" in notice.text and "20 cửa hàng" in notice.text
    assert "0912 345 678" not in notice.text  # the buyer's number waits for consent too
    async with db.session() as session:
        memo = (await session.exec(select(Memo))).one()
        assert (memo.status, memo.producer_phone, memo.volume) == ("interest", "", "300 chai/tháng")

    await producer.presses("Chấp nhận")
    assert "0912 345 678" in producer.last and "Siêu thị Xanh" in producer.last
    assert producer.seen[-1].document is not None
    accepted = (await buyer.receive())[-1]
    assert "0900 000 111" in accepted.text and "matong@example.com" in accepted.text
    assert accepted.document is not None and accepted.document.kind == "memo"

    await buyer.presses("Xác nhận")
    assert buyer.saw("Đang chờ bên kia")
    await producer.receive()
    await producer.presses("Xác nhận")
    assert producer.saw("Cả hai bên đã xác nhận")
    assert any("Cả hai bên đã xác nhận" in m.text for m in await buyer.receive())

    await office.says("/memos")
    await office.presses("#1")
    await office.presses("Đánh dấu đã ký")
    assert office.saw("đã được ghi nhận là đã ký")
    assert any("đã ký" in m.text for m in await buyer.receive())
    async with db.session() as session:
        memo = (await session.exec(select(Memo))).one()
        request = (await session.exec(select(ContactRequest))).one()
    assert (memo.status, request.status) == ("signed", "accepted")
    assert memo.producer_phone == "0900 000 111"


async def test_decline_keeps_contacts_private(conversation: Conversation) -> None:
    buyer, producer, office = (person(conversation, n) for n in ("lan", "hao", "office"))
    await register_buyer(buyer)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await producer.receive()
    await producer.presses("Từ chối")
    assert producer.saw("thông tin của bạn không được chia sẻ")
    told = await buyer.receive()
    assert "chưa thể hợp tác" in told[-1].text
    assert not any("0900 000 222" in m.text for m in buyer.seen)
    await buyer.says("/memos")
    assert "bị từ chối" in buyer.last


async def test_unclaimed_producer_goes_through_the_office(conversation: Conversation) -> None:
    buyer, office = person(conversation, "lan"), person(conversation, "office")
    await office.says("/help")  # the office is known before the request arrives
    await register_buyer(buyer)
    await request_contact(buyer, "gom bat trang", "Gốm men lam")
    assert buyer.saw("văn phòng điều phối sẽ chuyển yêu cầu")
    relay = (await office.receive())[-1]
    assert "chưa tham gia kênh này" in relay.text and "0900 000 555" in relay.text
    await office.presses("Chấp nhận")
    assert office.saw("do văn phòng điều phối chuyển tiếp")
    assert "0900 000 555" in (await buyer.receive())[-1].text


async def test_only_the_producer_can_answer(conversation: Conversation) -> None:
    buyer, producer, office, stranger = (person(conversation, n) for n in ("lan", "hao", "office", "mai"))
    await register_buyer(buyer)
    await register_buyer(stranger, company="Đại lý Mai")
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await stranger.taps("ra:1")
    assert "không có quyền" in stranger.last
    await stranger.taps("rv:1")
    assert "không có quyền" in stranger.last
    await buyer.taps("ra:1")
    assert "không có quyền" in buyer.last
    await stranger.taps("mv:1")
    assert "không có quyền" in stranger.last
    await producer.taps("mv:1")  # an interest memo is not shown to the producer before consent
    assert "không có quyền" in producer.last
    await stranger.taps("md:1")
    assert "không có quyền" in stranger.last


async def test_claim_needs_the_right_code(conversation: Conversation) -> None:
    _producer, office, impostor = (person(conversation, n) for n in ("hao", "office", "mai"))
    await office.says("/claimcode HTX Chè Hảo Đạt")
    await office.presses("Cấp mã")
    await impostor.says("/start")
    await impostor.presses("chủ thể sản xuất")
    await impostor.says("hao dat")
    await impostor.presses("HTX Chè Hảo Đạt")
    for _ in range(4):
        await impostor.says("WRONG123")
    assert "còn 1 lần thử" in impostor.last
    await impostor.says("WRONG123")
    assert "sai quá nhiều lần" in impostor.last
    await impostor.says("CODE0001")  # the flow is over: this is a search now, not a claim
    async with conversation.services.db.session() as session:
        user = (await session.exec(select(User).where(User.display_name == "Mai"))).one()
        assert user.producer_id is None and user.role == "none"
    await impostor.taps("claimcode:1")
    await impostor.says("/claimcode HTX Chè Hảo Đạt")
    assert "không có quyền" in impostor.last


async def test_quota_and_one_open_request_per_product(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, daily_quota=2))
    buyer = person(conversation, "lan")
    await register_buyer(buyer)
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await buyer.says("che tan cuong")
    await buyer.presses("Chè búp")
    await buyer.presses("Liên hệ nhà sản xuất")
    assert "đã có một yêu cầu đang chờ" in buyer.last
    await request_contact(buyer, "gom bat trang", "Gốm men lam")
    await buyer.says("gao st25")
    await buyer.presses("Gạo ST25")
    await buyer.presses("Liên hệ nhà sản xuất")
    assert "Bạn đã gửi 2 yêu cầu liên hệ hôm nay" in buyer.last
    conversation.services.clock.advance(days=1)  # type: ignore[attr-defined]
    await buyer.presses("Liên hệ nhà sản xuất")
    assert "Viết lời nhắn" in buyer.last


async def test_reminder_then_expiry(sqlite_db: Database) -> None:
    from handlers.inbox import run_due

    await load_catalogue(sqlite_db)
    clock = FakeClock()
    conversation = Conversation(make_services(sqlite_db, clock))
    buyer, producer, office = (person(conversation, n) for n in ("lan", "hao", "office"))
    await register_buyer(buyer)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await producer.receive()
    services = conversation.services

    clock.advance(hours=47)
    assert await run_due(services) == (0, 0)
    clock.advance(hours=2)
    assert await run_due(services) == (1, 0)
    assert "Nhắc nhở" in (await producer.receive())[-1].text
    clock.advance(hours=1)
    assert await run_due(services) == (0, 0)  # reminded once only
    clock.advance(days=5)
    assert await run_due(services) == (0, 1)
    assert "đã hết hạn" in (await buyer.receive())[-1].text
    await producer.presses("Chấp nhận")
    assert "đã hết hạn" in producer.last  # says why the button no longer applies
    async with sqlite_db.session() as session:
        memo = (await session.exec(select(Memo))).one()
    assert memo.status == "expired"


@pytest.mark.parametrize(
    "steps",
    [
        ["/start"],
        ["/start", "f:onboard:role:buyer"],
        ["/start", "f:onboard:role:buyer", "Công ty A"],
        ["/start", "f:onboard:role:buyer", "Công ty A", "f:onboard:kind:supermarket"],
        ["/start", "f:onboard:role:producer"],
        ["/start", "f:onboard:role:producer", "hao dat"],
    ],
)
@pytest.mark.parametrize("cancel", ["/cancel", "huỷ", "Hủy", "huy"])
async def test_cancel_leaves_any_onboarding_step(conversation: Conversation, steps: list[str], cancel: str) -> None:
    user = person(conversation, "lan")
    for step in steps:
        if ":" in step:
            await user.taps(step)
        else:
            await user.says(step)
    await user.says(cancel)
    assert user.last.startswith("Đã huỷ")
    await user.says("che tan cuong")
    assert "Chè búp Tân Cương" in user.last  # back to searching


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
async def test_cancel_leaves_any_contact_step(conversation: Conversation, steps: int) -> None:
    buyer = person(conversation, "lan")
    await register_buyer(buyer)
    await buyer.says("che tan cuong")
    await buyer.presses("Chè búp")
    await buyer.presses("Liên hệ nhà sản xuất")
    for answer in ["Cần hàng", "100 kg", "Tết"][: steps - 1]:
        await buyer.says(answer)
    await buyer.says("huỷ")
    assert buyer.last.startswith("Đã huỷ")
    async with conversation.services.db.session() as session:
        assert (await session.exec(select(ContactRequest))).all() == []


async def test_language_switch(conversation: Conversation) -> None:
    user = person(conversation, "lan")
    await user.says("/lang")
    await user.presses("English")
    assert user.last == "Switched to English."
    await user.says("mat ong ha giang")
    assert user.last.startswith("Found 1 product")
    await user.says("/help")
    assert "Type a product to search" in user.last
    await user.says("/lang")
    await user.presses("Tiếng Việt")
    assert user.last == "Đã chuyển sang tiếng Việt."


async def test_english_platform_hint_gives_english(conversation: Conversation) -> None:
    user = person(conversation, "john", language="en-GB")
    await user.says("/help")
    assert user.last.startswith("Hello!")


async def test_english_readers_see_the_kind_of_each_product(conversation: Conversation) -> None:
    user = person(conversation, "john", language="en-GB")
    await user.says("honey")
    assert "1. Mật ong bạc hà Mèo Vạc — mint honey" in user.last
    await user.presses("Mật ong bạc hà")
    assert user.last.startswith("Mật ong bạc hà Mèo Vạc — mint honey\n")  # the card too
    vietnamese = person(conversation, "lan")
    await vietnamese.says("mật ong")
    assert "— honey" not in vietnamese.last


async def test_a_greeting_is_answered_as_one_and_closest_matches_are_picked_by_number(
    conversation: Conversation,
) -> None:
    user = person(conversation, "lan", capabilities=NO_BUTTONS)
    await user.says("chào shop ạ")
    assert user.last.startswith("Xin chào! Bạn cần tìm sản phẩm OCOP nào?")
    await user.says("cần gốm, chè và gạo")
    assert "Không có sản phẩm nào khớp hết «cần gốm, chè và gạo»" in user.last
    await user.presses("Gốm men lam")  # its number, typed
    assert user.last.startswith("Gốm men lam Bát Tràng")


async def test_restart_in_the_middle_of_a_flow(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    first = Conversation(make_services(sqlite_db))
    buyer = person(first, "lan")
    await buyer.says("/start")
    await buyer.presses("người mua")
    await buyer.says("Siêu thị Xanh")
    # The process restarts: new services, new conversation, same database.
    second = Conversation(make_services(sqlite_db))
    buyer.conversation = second
    await buyer.presses("Siêu thị")
    assert "số điện thoại" in buyer.last
    await buyer.presses("Bỏ qua")
    assert buyer.saw("Siêu thị Xanh đã được đăng ký là người mua")


@pytest.mark.parametrize(
    "action",
    ["ra:999999", "ra:abc", "ra:", "ra:-1", "zz:1", "p:0", "p:99999999999999", "rg:99", "b:r:77", "b:s:9",
     "lang:fr", "s:5", "mc:1", "ms:1", "cf:send", "pc:1", "bk:spy", "x" * 64, "", "c:1", "f:onboard:role:admin",
     "f:contact:confirm:send", "f:zz:zz:zz", "p:1:2", "er:1:buyer:x", "f:onboard:role:buyer:extra", "s:1e3"],
)
async def test_tampered_or_stale_buttons_get_a_polite_notice(conversation: Conversation, action: str) -> None:
    user = person(conversation, "mai")
    await user.says("/help")
    await user.taps(action)
    assert user.last and "mã lỗi" not in user.last  # never an internal error
    assert user.seen[-1].notice or user.saw("đăng ký") or user.saw("Xin chào")


async def test_a_stale_button_says_why(conversation: Conversation) -> None:
    buyer, producer, office = (person(conversation, n) for n in ("lan", "hao", "office"))
    await register_buyer(buyer)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await producer.receive()
    await producer.presses("Chấp nhận")
    await producer.presses("Chấp nhận")  # the same button, pressed again
    assert "đã được trả lời" in producer.last
    await buyer.says("/start")
    await buyer.taps("f:onboard:kind:supermarket")  # a button of a question not asked yet
    assert "đã được trả lời" in buyer.last or "không còn hiệu lực" in buyer.last
    await buyer.taps("p:999")
    assert "không còn nữa" in buyer.last


async def test_numbered_options_without_buttons(conversation: Conversation) -> None:
    user = person(conversation, "zalo-user", capabilities=NO_BUTTONS, language="en")
    await user.says("/start")
    assert "1. I am a buyer (supermarket, distributor…)\n2. I am an OCOP producer" in user.last
    assert "Reply with the number" in user.last  # the hint, under the first menu
    await user.says("I am a buyer (supermarket, distributor…)")  # typing the option's text works too
    assert "name of your company" in user.last
    await user.says("Green Mart")
    assert "1. Supermarket" in user.last and "Reply with the number" not in user.last  # not under every menu
    await user.says("1")
    assert "phone" in user.last and "Or type «Skip»." in user.last and "1. Skip" not in user.last
    await user.says("0912 345 678")
    assert user.saw("Green Mart is registered as a buyer")
    await user.says("7")  # the regions: the 7th option is "Done"
    assert user.saw("You can choose regions of interest later")


async def test_a_wrong_answer_never_locks_a_menu(conversation: Conversation) -> None:
    """After "9" at a menu of four, the right number and the option's own text are still taken."""
    user = person(conversation, "zalo-user", capabilities=NO_BUTTONS)
    await user.says("/start")
    await user.presses("người mua")
    await user.says("Siêu thị Xanh")
    await user.says("9")
    assert "không có trong các lựa chọn" in user.last and "1. Siêu thị" in user.last  # the menu again, with the hint
    assert "Trả lời bằng số thứ tự" in user.last
    await user.says("hàng không có")
    assert "không có trong các lựa chọn" in user.last
    await user.says("Siêu thị")  # the option's text
    assert "số điện thoại" in user.last


async def test_a_number_at_a_free_text_step_is_a_value_not_an_option(conversation: Conversation) -> None:
    buyer = person(conversation, "lan", capabilities=NO_BUTTONS)
    await register_buyer(buyer)
    await buyer.says("che tan cuong")
    await buyer.says("1")  # a number under a results list picks that result
    assert buyer.last.startswith("Chè búp Tân Cương")
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.says("Cần hàng cho Tết")
    await buyer.says("1")  # the volume is "1", not "Bỏ qua"
    await buyer.says("bỏ qua")  # the season skipped by its word
    assert "Sản lượng: 1" in buyer.last


async def test_lists_are_shown_once_with_full_labels(conversation: Conversation) -> None:
    from models.catalog_import import import_rows
    from models.tabular import read_bytes

    long_name = "Chè búp Tân Cương đặc biệt thu hái vụ xuân năm 2026 loại một"
    row = f"Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\n{long_name},HTX Trà Xuân,Thái Nguyên,Đồ uống,4\n"
    await import_rows(conversation.services.db, read_bytes(row.encode(), "long.csv"))
    user = person(conversation, "zalo-user", capabilities=NO_BUTTONS)
    await user.says("che xuan 2026")
    assert f"1. {long_name} — ★★★★" in user.last and "1. 1." not in user.last
    assert user.last.count(long_name) == 1


async def test_bad_input_never_crashes(conversation: Conversation) -> None:
    user = person(conversation, "mai")
    await user.says("x" * 5000)
    assert "tối đa 2000 ký tự" in user.last
    await user.says("   ")
    assert "chưa nhập gì" in user.last
    await user.says("/nosuchcommand")
    assert "Không có lệnh /nosuchcommand" in user.last
    for text in ["😀😀😀", "'; DROP TABLE product; --", "\x00\x1b[31m", "dn"]:
        await user.says(text)
        assert "mã lỗi" not in user.last
    assert "có thể là Đà Nẵng, Đồng Nai, Đắk Nông" in user.seen[-1].text or user.saw("Đà Nẵng")


async def test_contact_message_over_the_limit_is_refused(conversation: Conversation) -> None:
    buyer = person(conversation, "lan")
    await register_buyer(buyer)
    await buyer.says("che tan cuong")
    await buyer.presses("Chè búp")
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.says("a" * 1500)
    assert "tối đa 1000 ký tự" in buyer.last
    await buyer.says("Cần hàng")
    assert "Sản lượng dự kiến" in buyer.last


async def test_unexpected_errors_get_an_apology_with_an_id(conversation: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers import app

    async def broken(ctx: object, arg: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(app.COMMANDS, "help", broken)
    user = person(conversation, "mai")
    await user.says("/help")
    assert "mã lỗi" in user.last


async def test_group_chats_answer_only_public_commands(conversation: Conversation) -> None:
    from handlers.messages import Incoming

    async def group(text: str) -> list[str]:
        incoming = Incoming(channel="telegram", user_id="1", chat_id="-100", text=text, is_group=True)
        return [r.text for r in await conversation.handle(incoming, BUTTONS)]

    assert await group("hello everyone") == []
    assert "Vui lòng nhắn riêng" in (await group("/requests@ocop_bot"))[0]
    assert "Chè búp Tân Cương" in (await group("/search@ocop_bot che tan cuong"))[0]


async def test_browse_region_province_group_stars(conversation: Conversation) -> None:
    user = person(conversation, "lan")
    await user.says("/browse")
    await user.presses("Đồng bằng sông Cửu Long")
    await user.presses("Cần Thơ")
    await user.presses("Thực phẩm")
    await user.presses("5 sao")
    assert "Gạo ST25 Mỹ Xuyên" in user.last
    await user.says("/browse")
    await user.presses("Cả nước")
    await user.presses("Tất cả các nhóm")
    await user.presses("Tiềm năng 5 sao")
    assert "Nước mắm Phú Quốc" in user.last and "Gạo" not in user.last


async def test_paging_edits_the_results_message(conversation: Conversation) -> None:
    from models.catalog_import import import_rows
    from models.tabular import read_bytes

    more = "Tên sản phẩm,Chủ thể,Tỉnh,Nhóm sản phẩm,Số sao\n" + "".join(
        f"Trà xanh số {n},HTX Trà {n},Thái Nguyên,Đồ uống,3\n" for n in range(1, 4)
    )
    await import_rows(conversation.services.db, read_bytes(more.encode(), "more.csv"))
    user = person(conversation, "lan")
    await user.says("/browse")
    await user.presses("Cả nước")
    await user.presses("Tất cả các nhóm")
    await user.presses("Tất cả")
    assert "Tìm thấy 8 sản phẩm, đang xem 1–5" in user.last
    await user.presses("Xem thêm")
    assert "đang xem 6–8" in user.last and user.seen[-1].edit
    await user.presses("Trước")
    assert "đang xem 1–5" in user.last


async def test_a_number_the_list_does_not_have_is_answered_never_searched(conversation: Conversation) -> None:
    """A buyer scrolls up and types a number from an older list: told which numbers the last list has, shown them
    again, and the numbers still work."""
    user = person(conversation, "lan", capabilities=NO_BUTTONS)
    await user.says("mật ong")
    assert user.last.startswith("Tìm thấy 1 sản phẩm")
    await user.says("6")
    assert user.last.startswith("Danh sách vừa rồi không có số 6.")
    assert "\n1. Mật ong bạc hà Mèo Vạc" in user.last and "1. 1." not in user.last
    assert "Không tìm thấy" not in user.last
    await user.says("1")
    assert user.last.startswith("Mật ong bạc hà Mèo Vạc")


async def test_an_english_search_in_a_vietnamese_chat_offers_english_once(conversation: Conversation) -> None:
    user = person(conversation, "lan", capabilities=NO_BUTTONS)
    await user.says("do you have honey?")
    assert "Prefer to read in English?" in user.last and user.last.startswith("Tìm thấy 1 sản phẩm")
    await user.presses("English")
    assert user.saw("Switched to English.")
    assert user.last.startswith("Found 1 product") and "Mật ong bạc hà Mèo Vạc — mint honey" in user.last
    other = person(conversation, "minh", capabilities=NO_BUTTONS)
    await other.says("honey")
    assert "Prefer to read in English?" in other.last
    await other.says("honey")
    assert "Prefer to read in English?" not in other.last  # offered once
    await other.says("mật ong")
    assert "Prefer to read in English?" not in other.last  # a Vietnamese search is not offered it
