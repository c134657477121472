"""The memo's parties in full (asked once, skippable, edited with /profile) and what a producer learns about a buyer
before deciding: on the console, in the memo's DOCX, and on Telegram."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import docx
import pytest

from handlers.actions import Answer
from handlers.app import Conversation
from handlers.memos import load_document
from handlers.messages import DocumentRef
from models import parties
from models.db import Database
from tests.chat import (
    NO_BUTTONS,
    ChatUser,
    claim_producer,
    load_catalogue,
    make_services,
    register_buyer,
    request_contact,
)
from tests.fake_telegram import FakeTelegram
from tests.loopback import serving
from tests.telegram_users import claimed_on_telegram, registered_on_telegram
from tests.test_telegram import Running, run_channel

LAN = ("Nguyễn Thị Lan", "Giám đốc", "12 Tràng Tiền, phường Hoàn Kiếm, Hà Nội", "0300588569", "Lan@SieuThiXanh.VN")


@pytest.fixture
async def conversation(sqlite_db: Database) -> Conversation:
    await load_catalogue(sqlite_db)
    return Conversation(make_services(sqlite_db))


async def give_details(user: ChatUser, details: tuple[str, ...]) -> None:
    """Answer the five questions after "Nhập ngay"; an empty answer is skipped."""
    await user.presses("Nhập ngay")
    for answer in details:
        if answer:
            await user.says(answer)
        else:
            await user.presses("Bỏ qua")


async def memo_lines(db: Database, memo: int) -> list[str]:
    _name, data = await load_document(db, DocumentRef("memo", memo))
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs if p.text]


def party_block(lines: list[str], heading: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    return lines[start + 1 : start + 8]


# -- the rules ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("0300588569", "0300588569"),  # Vinamilk
        ("0100109106", "0100109106"),  # Viettel
        ("0100 109 106", "0100109106"),
        ("0100109106-001", "0100109106-001"),  # a branch
        ("0100109106001", "0100109106-001"),
    ],
)
def test_valid_tax_codes_are_kept_as_written_on_documents(typed: str, kept: str) -> None:
    assert parties.tax_code(typed) == kept


@pytest.mark.parametrize(
    "typed", ["0300588568", "030058856", "03005885690", "0100109106-01", "ABCDEFGHIJ", "", "0000000010"]
)
def test_invalid_tax_codes_are_refused(typed: str) -> None:
    assert parties.tax_code(typed) is None


def test_no_code_is_valid_where_the_check_would_be_10() -> None:
    nine = "000000117"  # 7·1 + 5·1 + 3·7 = 33, a multiple of 11: the check would be 10
    assert all(parties.tax_code(nine + str(last)) is None for last in range(10))


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("lan@sieuthixanh.vn", "lan@sieuthixanh.vn"), ("Lan.Nguyen@SieuThi.COM.vn", "Lan.Nguyen@sieuthi.com.vn")],
)
def test_valid_emails(typed: str, kept: str) -> None:
    assert parties.email(typed) == kept


@pytest.mark.parametrize("typed", ["lan", "lan@sieuthi", "lan @x.vn", "@x.vn", "lan@@x.vn", "lan..a@x.vn", ".a@x.vn"])
def test_invalid_emails(typed: str) -> None:
    assert parties.email(typed) is None


# -- asked once, at onboarding -----------------------------------------------------------------------------------


async def test_buyer_gives_the_details_after_registering_and_bad_ones_are_asked_again(
    conversation: Conversation,
) -> None:
    lan = ChatUser(conversation, "lan")
    await register_buyer(lan)
    assert "họ tên và chức vụ người đại diện, địa chỉ, mã số thuế, email" in lan.last
    await lan.presses("Nhập ngay")
    assert lan.last.startswith("(1/5) Họ tên đầy đủ của người đại diện")
    await lan.says(LAN[0])
    await lan.says(LAN[1])
    await lan.says(LAN[2])
    assert lan.last.startswith("(4/5) Mã số thuế")
    await lan.says("0300588568")  # the check digit is wrong
    assert lan.last.startswith("Mã số thuế không hợp lệ") and "(4/5) Mã số thuế" in lan.last
    await lan.says("03005885")
    assert lan.last.startswith("Mã số thuế không hợp lệ")
    await lan.says(LAN[3])
    assert lan.last.startswith("(5/5) Email")
    await lan.says("lan@sieuthixanh")
    assert lan.last.startswith("Địa chỉ email chưa đúng") and "(5/5) Email" in lan.last
    await lan.says(LAN[4])
    assert lan.saw("✅ Đã lưu thông tin cho biên bản ghi nhớ")
    assert "Bạn là người mua" in lan.last  # then the help, as after any registration

    await lan.says("/profile")
    assert "Siêu thị Xanh" in lan.last
    for line in (
        "• Người đại diện: Nguyễn Thị Lan",
        "• Chức vụ: Giám đốc",
        "• Địa chỉ: 12 Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
        "• Mã số thuế: 0300588569",
        "• Email: Lan@sieuthixanh.vn",
    ):
        assert line in lan.last


async def test_the_whole_block_or_each_field_may_be_skipped(conversation: Conversation) -> None:
    lan, hoa, minh = (ChatUser(conversation, name) for name in ("lan", "hoa", "minh"))
    await register_buyer(lan)
    await lan.presses("Để sau")
    assert lan.saw("bổ sung thông tin cho biên bản ghi nhớ bất cứ lúc nào bằng /profile")
    await lan.says("/profile")
    assert "• Người đại diện: (chưa có)" in lan.last and "• Email: (chưa có)" in lan.last

    await register_buyer(hoa, company="Công ty Phân phối Hòa")
    await give_details(hoa, ("", "", "", "0100109106", ""))
    await hoa.says("/profile")
    assert "• Mã số thuế: 0100109106" in hoa.last and "• Người đại diện: (chưa có)" in hoa.last

    await register_buyer(minh, company="Chuỗi Minh")
    await minh.says("che tan cuong")  # searching instead of answering leaves the question
    assert "Chè búp Tân Cương" in minh.last

    await lan.says("/start")  # registering again: the details are not asked twice once given
    await lan.presses("người mua")
    await lan.says("Siêu thị Xanh")
    await lan.presses("Siêu thị")
    await lan.presses("Bỏ qua")
    await lan.presses("Xong")
    assert "họ tên và chức vụ người đại diện" in lan.last  # lan gave nothing: asked again
    await hoa.says("/start")
    await hoa.presses("người mua")
    await hoa.says("Công ty Phân phối Hòa")
    await hoa.presses("Nhà phân phối")
    await hoa.presses("Bỏ qua")
    await hoa.presses("Xong")
    assert "Bạn là người mua" in hoa.last  # hoa gave a tax code: not asked again, /profile is there


async def test_profile_shows_changes_and_clears_fields(conversation: Conversation) -> None:
    lan, guest = ChatUser(conversation, "lan"), ChatUser(conversation, "khach")
    await register_buyer(lan)
    await give_details(lan, LAN)

    await lan.says("/profile")
    await lan.presses("Chức vụ")
    assert lan.last.startswith("Hiện tại: Giám đốc")
    await lan.says("Phó Giám đốc")
    assert lan.saw("✅ Đã lưu: Chức vụ.")
    assert "• Chức vụ: Phó Giám đốc" in lan.last  # the profile again, to change something else

    await lan.presses("Email")
    await lan.presses("Xoá mục này")
    assert lan.saw("🗑 Đã xoá: Email.") and "• Email: (chưa có)" in lan.last

    await lan.presses("Mã số thuế")
    await lan.says("0300 588 560")
    assert lan.last.startswith("Mã số thuế không hợp lệ")
    await lan.says("0300588569-002")
    assert "• Mã số thuế: 0300588569-002" in lan.last

    await lan.presses("Người đại diện")
    await lan.presses("Bỏ qua")  # unchanged
    assert "• Người đại diện: Nguyễn Thị Lan" in lan.last
    await lan.presses("Xong")
    assert lan.last == "Đã lưu hồ sơ. Các biên bản chưa xác nhận sẽ dùng thông tin mới."

    await lan.says("/lang")
    await lan.presses("English")
    await lan.says("/profile")
    assert "• Position: Phó Giám đốc" in lan.last
    await lan.presses("E-mail")
    await lan.says("not an address")
    assert lan.last.startswith("That e-mail address does not look right")
    await lan.says("/cancel")

    await guest.says("/profile")
    assert guest.last == "Hồ sơ dành cho người mua và nhà sản xuất đã đăng ký. Gõ /start để đăng ký."
    await guest.taps(Answer("profile", "field", "email").encode())  # a forged answer: refused, no crash
    assert "Hồ sơ dành cho" not in guest.last and guest.last


# -- the memo -------------------------------------------------------------------------------------------------------


async def test_the_memo_names_both_parties_in_full(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    lan, hao, office = (ChatUser(conversation, name) for name in ("lan", "hao", "office"))
    await office.says("/help")
    await register_buyer(lan)
    await give_details(lan, LAN)
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    assert "họ tên và chức vụ người đại diện" in hao.last  # asked at the claim too
    await give_details(hao, ("Hoàng Văn Hảo", "Chủ nhiệm HTX", "", "4600123459", ""))
    await request_contact(lan, "che tan cuong", "Chè búp")
    await hao.receive()
    await hao.presses("Chấp nhận")

    lines = await memo_lines(db, 1)
    assert party_block(lines, "BÊN A (BÊN MUA)") == [
        "Loại hình: Siêu thị",
        "Người đại diện: Nguyễn Thị Lan",  # the full name, not the chat name "Lan"
        "Chức vụ: Giám đốc",
        "Địa chỉ: 12 Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
        "Mã số thuế: 0300588569",
        "Điện thoại: 0912 345 678",
        "Email: Lan@sieuthixanh.vn",
    ]
    assert party_block(lines, "BÊN B (BÊN BÁN") == [
        "Loại hình: Hợp tác xã",
        "Người đại diện: Hoàng Văn Hảo",
        "Chức vụ: Chủ nhiệm HTX",
        "Địa chỉ: xã Tân Cương, TP Thái Nguyên, tỉnh Thái Nguyên",  # skipped: the certificate's address
        "Mã số thuế: 4600123459",
        "Điện thoại: 0900 000 222",
        "Email: che@example.com",  # skipped: the catalogue's
    ]

    await hao.says("/profile")  # a draft follows the producer's profile
    await hao.presses("Email")
    await hao.says("hao@chehaodat.vn")
    assert "Email: hao@chehaodat.vn" in party_block(await memo_lines(db, 1), "BÊN B (BÊN BÁN")

    await lan.receive()
    await lan.presses("Xác nhận")
    await hao.receive()
    await hao.presses("Xác nhận")
    await lan.says("/profile")  # a confirmed memo keeps what both confirmed
    await lan.presses("Người đại diện")
    await lan.says("Trần Văn Nam")
    signatures = docx.Document(io.BytesIO((await load_document(db, DocumentRef("memo", 1)))[1])).tables[1]
    left = [p.text for p in signatures.rows[0].cells[0].paragraphs if p.text]
    assert left == ["ĐẠI DIỆN BÊN A", "GIÁM ĐỐC", "(Ký, ghi rõ họ tên, đóng dấu nếu có)", "Nguyễn Thị Lan"]


# -- what the producer is told before deciding -------------------------------------------------------------------


async def test_the_producer_sees_who_the_buyer_is_but_not_their_phone(conversation: Conversation) -> None:
    lan, binh, hao, office = (ChatUser(conversation, name) for name in ("lan", "binh", "hao", "office"))
    await office.says("/help")
    await register_buyer(lan)  # shares the phone through the platform's button, likes the Red River Delta
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    await request_contact(lan, "che tan cuong", "Chè búp")
    notice = (await hao.receive())[-1].text
    assert "Người mua: Siêu thị Xanh\nLoại hình: Siêu thị\nVùng quan tâm: Đồng bằng sông Hồng\n" in notice
    assert "Điện thoại: đã xác thực qua nền tảng\nBiên bản đã ký qua hệ thống: 0\n" in notice
    assert "0912 345 678" not in notice and "Người mua: Lan" not in notice  # the company, not the chat name

    await binh.says("/start")  # types the phone, chooses no region
    await binh.presses("người mua")
    await binh.says("Công ty Bình An")
    await binh.presses("Nhà phân phối")
    await binh.says("0987 654 321")
    await binh.presses("Xong")
    await request_contact(binh, "che tan cuong", "Chè búp")
    notice = (await hao.receive())[-1].text
    assert "Người mua: Công ty Bình An\nLoại hình: Nhà phân phối\nVùng quan tâm: chưa chọn\n" in notice
    assert "Điện thoại: tự nhập, chưa xác thực\n" in notice and "0987 654 321" not in notice

    await hao.says("/requests")  # lan's request accepted, its memo signed
    await hao.presses("#1 ")
    assert "Người mua: Siêu thị Xanh\nLoại hình: Siêu thị\n" in hao.last  # the request, opened: the same facts
    assert "Điện thoại: đã xác thực qua nền tảng" in hao.last and "0912 345 678" not in hao.last
    await hao.presses("Chấp nhận")
    for who in (lan, hao):
        await who.receive()
    await hao.says("/memos")
    await hao.presses("#1")
    await hao.presses("Xác nhận")
    await lan.receive()
    await lan.says("/memos")
    await lan.presses("#1")
    await lan.presses("Xác nhận")
    await office.says("/memos")
    await office.presses("#1")
    await office.presses("Đánh dấu đã ký")
    await request_contact(lan, "mat ong ha giang", "Mật ong bạc hà")  # producer not on the bot: the office
    relayed = (await office.receive())[-1].text
    assert "Người mua: Siêu thị Xanh" in relayed and "Biên bản đã ký qua hệ thống: 1\n" in relayed
    assert "0912 345 678" not in relayed


# -- on Telegram --------------------------------------------------------------------------------------------------


@pytest.fixture
async def telegram(sqlite_db: Database) -> AsyncIterator[Running]:
    async with serving(FakeTelegram()) as fake:
        async for running in run_channel(sqlite_db, fake, "polling"):
            yield running


async def test_on_telegram(telegram: Running) -> None:
    buyer, producer, office = telegram.user(101), telegram.user(202), telegram.user(9000)
    await claimed_on_telegram(office, producer, "HTX Mật ong Mèo Vạc", "mật ong mèo vạc")
    await producer.expect("họ tên và chức vụ người đại diện")
    await producer.presses("Để sau")
    await producer.expect("/profile")

    await registered_on_telegram(buyer)  # the phone shared with the contact button: verified
    await buyer.expect("Không bắt buộc: bạn quan tâm sản phẩm của vùng nào?")
    await buyer.presses("Đồng bằng sông Hồng")
    await buyer.expect("Không bắt buộc")
    await buyer.presses("Xong")
    await buyer.expect("họ tên và chức vụ người đại diện")
    await buyer.presses("Nhập ngay")
    await buyer.expect("(1/5)")
    await buyer.says("Nguyễn Thị Lan")
    await buyer.expect("(2/5)")
    await buyer.presses("Bỏ qua")
    await buyer.expect("(3/5)")
    await buyer.presses("Bỏ qua")
    await buyer.expect("(4/5)")
    await buyer.says("0300588560")
    await buyer.expect("Mã số thuế không hợp lệ")
    await buyer.says("0300588569")
    await buyer.expect("(5/5)")
    await buyer.says("lan@")
    await buyer.expect("Địa chỉ email chưa đúng")
    await buyer.says("lan@sieuthixanh.vn")
    await buyer.expect("Đã lưu thông tin cho biên bản ghi nhớ")

    await buyer.says("mat ong ha giang")
    await buyer.expect("Mật ong bạc hà Mèo Vạc")
    await buyer.presses("Mật ong bạc hà")
    await buyer.expect("OCOP ★★★★")
    await buyer.presses("Liên hệ nhà sản xuất")
    await buyer.expect("Viết lời nhắn")
    await buyer.says("Cần mật ong cho chuỗi 20 cửa hàng")
    await buyer.expect("Sản lượng dự kiến")
    await buyer.presses("Bỏ qua")
    await buyer.expect("Thời vụ")
    await buyer.presses("Bỏ qua")
    await buyer.expect("Kiểm tra lại yêu cầu")
    await buyer.presses("Gửi yêu cầu")
    notice = await producer.expect("Yêu cầu liên hệ mới #1")
    assert "Người mua: Siêu thị Xanh\nLoại hình: Siêu thị\nVùng quan tâm: Đồng bằng sông Hồng\n" in notice.text
    assert "Điện thoại: đã xác thực qua nền tảng" in notice.text and "+84912345678" not in notice.text


async def test_a_notice_on_a_numbered_channel_takes_over_the_unanswered_offer(conversation: Conversation) -> None:
    lan, office = ChatUser(conversation, "lan"), ChatUser(conversation, "office")
    hao = ChatUser(conversation, "hao", capabilities=NO_BUTTONS)
    await office.says("/help")
    await register_buyer(lan)
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    assert "1. ✍️ Nhập ngay" in hao.last  # the offer, left unanswered
    await request_contact(lan, "che tan cuong", "Chè búp")
    notice = (await hao.receive())[-1].text
    assert "1. ✅ Chấp nhận" in notice
    await hao.says("1")  # the notice's option, not the offer's
    assert hao.saw("0912 345 678")
