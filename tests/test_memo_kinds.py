"""The three memo kinds (framework, buyer–province, buyer–producer): flows, numbers, documents, statistics, and the
office confirming for a producer not on the bot."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import docx
import pytest
from sqlmodel import select

from handlers.actions import ConfirmMemo, ShowMemo
from handlers.app import Conversation
from handlers.memos import load_document
from handlers.messages import DocumentRef
from models.audit import recent
from models.clock import FakeClock
from models.db import Database
from models.events import EventRole, create_event, register
from models.memo_templates import FRAMEWORK, PROVINCE
from models.memos import Memo
from models.people import User
from models.stats import programme_stats
from tests.chat import (
    ChatUser,
    claim_producer,
    load_catalogue,
    make_services,
    register_buyer,
    request_contact,
    with_draft_memo,
)
from tests.fake_telegram import FakeTelegram
from tests.loopback import serving
from tests.telegram_users import registered_on_telegram
from tests.test_telegram import OFFICE, run_channel

NOT_AUTHORISED = "không có quyền"
EVENT = {"name": "Hội nghị kết nối cung cầu OCOP Hà Nội", "theme": "", "venue": "Hà Nội", "starts_on": "2026-11-27",
         "ends_on": "2026-11-28", "register_by": "2026-11-27"}


def document_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


async def memo_file(db: Database, memo_id: int) -> str:
    name, data = await load_document(db, DocumentRef("memo", memo_id))
    assert name == f"bien-ban-ghi-nho-{memo_id}.docx"
    return document_text(data)


async def make_framework(office: ChatUser, org_a: str, org_b: str, content: str) -> None:
    await office.says("/framework")
    await office.says(org_a)
    await office.says("Ông Nguyễn Văn Hùng, Chánh Văn phòng")
    await office.says(org_b)
    await office.says("Bà Trần Thị Mai, Chủ tịch Hiệp hội")
    await office.says(content)
    if any("sự kiện nào" in message.text for message in office.seen[-1:]):
        await office.presses("Bỏ qua")
    await office.presses("Lập biên bản")


async def propose(buyer: ChatUser, province: str = "Lào Cai", wish: str = "Tương ớt, chè shan tuyết") -> None:
    await buyer.says("/province")
    await buyer.says(province)
    await buyer.says(wish)
    await buyer.says("2 tấn/tháng")
    await buyer.presses("Gửi đề xuất")


@pytest.fixture
async def people(db: Database) -> AsyncIterator[tuple[ChatUser, ChatUser, ChatUser, FakeClock]]:
    """The office, a registered buyer (lan) and another buyer (binh), on the console."""
    await load_catalogue(db)
    clock = FakeClock()
    conversation = Conversation(make_services(db, clock))
    office, lan, binh = (ChatUser(conversation, name) for name in ("office", "lan", "binh"))
    await office.says("/help")
    await register_buyer(lan)
    await register_buyer(binh, company="Đại lý Bình")
    yield office, lan, binh, clock


async def test_the_office_makes_a_framework_memo(db: Database, people: tuple[ChatUser, ...]) -> None:
    office, lan, _binh, _clock = people
    await make_framework(office, "Văn phòng Điều phối Chương trình OCOP Hà Nội", "Hiệp hội Bán lẻ Việt Nam",
                         "Phối hợp đưa sản phẩm OCOP vào hệ thống bán lẻ.\nTổ chức 2 hội chợ mỗi năm.")
    assert office.saw("Đã lập biên bản khung hợp tác số 1/2026/BBGN-TC")
    assert office.seen[-1].document is not None
    text = await memo_file(db, 1)
    assert FRAMEWORK.title in text and "Số: 1/2026/BBGN-TC" in text and "ĐÃ XÁC NHẬN" in text
    assert "BÊN A: Văn phòng Điều phối Chương trình OCOP Hà Nội" in text
    assert "BÊN B: Hiệp hội Bán lẻ Việt Nam" in text
    assert "Người đại diện: Ông Nguyễn Văn Hùng, Chánh Văn phòng" in text
    assert "Người đại diện: Bà Trần Thị Mai, Chủ tịch Hiệp hội" in text
    assert "Phối hợp đưa sản phẩm OCOP vào hệ thống bán lẻ." in text and "Tổ chức 2 hội chợ mỗi năm." in text
    assert "Điều 1. Nội dung hợp tác" in text

    await office.says("/memos")
    assert "#1 Khung hợp tác" in office.last and "Hiệp hội Bán lẻ Việt Nam" in office.last
    await office.presses("#1")
    assert "Biên bản ghi nhớ hợp tác (khung) số 1/2026/BBGN-TC" in office.last
    await office.presses("Đánh dấu đã ký")
    assert office.saw("1/2026/BBGN-TC đã được ghi nhận là đã ký")
    async with db.session() as session:
        assert [entry.action for entry in await recent(session, action="memo.framework")] == ["memo.framework"]

    # Buyers neither make framework memos nor see the office's.
    await lan.says("/framework")
    assert NOT_AUTHORISED in lan.last
    await lan.says("/memos")
    assert "BBGN-TC" not in lan.last
    await lan.taps(ShowMemo(1).encode())
    assert NOT_AUTHORISED in lan.last


async def test_a_buyer_proposes_to_a_province_and_the_office_confirms(
    db: Database, people: tuple[ChatUser, ...]
) -> None:
    office, lan, binh, _clock = people
    await lan.says("/province")
    await lan.says("Xứ Wakanda")
    assert "Không tìm thấy tỉnh, thành phố «Xứ Wakanda»" in lan.last
    await lan.says("Lào Cai")
    assert "sản phẩm nào của Lào Cai" in lan.last
    await lan.says("Tương ớt, chè shan tuyết cho 12 siêu thị")
    await lan.says("2 tấn/tháng")
    await lan.presses("Gửi đề xuất")
    assert lan.saw("Đã gửi đề xuất biên bản 1/2026/BBGN-DP với Lào Cai")

    await office.receive()
    assert office.saw("Siêu thị Xanh muốn hợp tác tiêu thụ sản phẩm của Lào Cai")
    await binh.taps(ConfirmMemo(1).encode())  # another buyer cannot confirm for the province
    assert NOT_AUTHORISED in binh.last
    await binh.taps(ShowMemo(1).encode())
    assert NOT_AUTHORISED in binh.last
    await office.presses("Xác nhận cho địa phương")
    assert office.saw("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-DP")
    await lan.receive()
    assert lan.saw("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-DP") and lan.seen[-1].document is not None

    text = await memo_file(db, 1)
    assert PROVINCE.title in text and "Số: 1/2026/BBGN-DP" in text
    assert "BÊN A (DOANH NGHIỆP, SIÊU THỊ): Siêu thị Xanh" in text and "Loại hình: Siêu thị" in text
    assert "BÊN B (ĐẦU MỐI KẾT NỐI CỦA ĐỊA PHƯƠNG): Văn phòng Điều phối Chương trình OCOP (đầu mối kết nối Lào Cai)" in text
    assert "Tương ớt, chè shan tuyết cho 12 siêu thị" in text and "Sản lượng dự kiến: 2 tấn/tháng" in text

    await lan.says("/memos")
    assert "#1 Doanh nghiệp – địa phương: Lào Cai" in lan.last
    await binh.says("/memos")
    assert "Lào Cai" not in binh.last


async def test_each_kind_has_its_own_numbers_by_year(db: Database, people: tuple[ChatUser, ...]) -> None:
    office, lan, _binh, clock = people
    await request_contact(lan, "che tan cuong", "Chè búp")  # a buyer–producer memo (an expression of interest)
    await propose(lan)
    await make_framework(office, "Sở Công Thương Hà Nội", "UBND tỉnh Lào Cai", "Kết nối cung cầu.")
    await propose(lan, "Thái Nguyên")
    await make_framework(office, "Sở Công Thương Hà Nội", "Hiệp hội Siêu thị Hà Nội", "Trưng bày OCOP.")
    clock.advance(days=40)  # 2027 in Vietnam
    await propose(lan, "Sơn La")
    async with db.session() as session:
        memos = (await session.exec(select(Memo).order_by(Memo.id))).all()  # type: ignore[arg-type]
    assert [memo.number for memo in memos] == [
        "1/2026/BBGN-OCOP", "1/2026/BBGN-DP", "1/2026/BBGN-TC", "2/2026/BBGN-DP", "2/2026/BBGN-TC", "1/2027/BBGN-DP",
    ]


async def test_the_office_confirms_for_a_producer_not_on_the_bot(db: Database) -> None:
    services = await with_draft_memo(db)  # the office accepted lan's request for the producer
    conversation = Conversation(services)
    office, lan = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    await lan.says("/memos")
    await lan.presses("#1")
    await lan.presses("Xác nhận")
    assert lan.saw("Bạn đã xác nhận biên bản 1/2026/BBGN-OCOP")

    await office.says("/memos")
    await office.presses("#1")
    assert "✍️ Xác nhận thay chủ thể" in office.buttons()
    await office.presses("Xác nhận thay chủ thể")
    assert office.saw("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-OCOP")
    await lan.receive()
    assert lan.saw("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-OCOP")
    await office.taps(ConfirmMemo(1).encode())  # twice: already confirmed
    assert "đã được trả lời" in office.last

    async with db.session() as session:
        entries = await recent(session, action="memo.confirm_for_producer")
        memo = await session.get(Memo, 1)
    assert [entry.subject for entry in entries] == ["memo:1"] and memo is not None and memo.status == "confirmed"
    await office.taps(ShowMemo(1).encode())
    assert "văn phòng điều phối xác nhận thay" in office.last
    text = await memo_file(db, 1)
    assert "Văn phòng Điều phối Chương trình OCOP xác nhận thay Bên B (chủ thể OCOP chưa tham gia hệ thống)" in text
    await office.presses("Đánh dấu đã ký")
    assert office.saw("1/2026/BBGN-OCOP đã được ghi nhận là đã ký")


async def test_the_office_cannot_confirm_for_a_producer_on_the_bot(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    office, lan, hao, binh = (ChatUser(conversation, name) for name in ("office", "lan", "hao", "binh"))
    await office.says("/help")
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    await register_buyer(lan)
    await register_buyer(binh, company="Đại lý Bình")
    await request_contact(lan, "che tan cuong", "Chè búp")
    await hao.receive()
    await hao.presses("Chấp nhận")

    await office.taps(ShowMemo(1).encode())
    assert not any("Xác nhận" in label for label in office.buttons())
    await office.taps(ConfirmMemo(1).encode())
    assert NOT_AUTHORISED in office.last
    await binh.taps(ConfirmMemo(1).encode())
    assert NOT_AUTHORISED in binh.last
    async with db.session() as session:
        assert await recent(session, action="memo.confirm_for_producer") == []
        memo = await session.get(Memo, 1)
    assert memo is not None and memo.producer_confirmed_at is None

    # Both sides confirm themselves: the office is told, with the button to mark it signed.
    await hao.presses("Xác nhận")
    await lan.receive()
    await lan.presses("Xác nhận")
    assert lan.saw("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-OCOP")
    await office.receive()
    assert office.saw("Hai bên đã xác nhận biên bản 1/2026/BBGN-OCOP")
    await office.presses("Đánh dấu đã ký")
    assert office.saw("1/2026/BBGN-OCOP đã được ghi nhận là đã ký")
    text = await memo_file(db, 1)
    assert "xác nhận thay Bên B" not in text


async def test_stats_count_memos_by_kind_and_by_event(db: Database, people: tuple[ChatUser, ...]) -> None:
    office, lan, _binh, clock = people
    async with db.transaction() as session:
        users = {u.display_name: u for u in (await session.exec(select(User))).all()}
        event = await create_event(session, users["Office"], EVENT, clock.now())
        await register(session, users["Lan"], event.id or 0, EventRole.BUYER, clock.now())
    await office.says("/framework")
    for answer in ("Văn phòng Điều phối OCOP Hà Nội", "Ông Hùng", "Hiệp hội Bán lẻ", "Bà Mai", "Kết nối"):
        await office.says(answer)
    await office.presses(EVENT["name"][:40])
    await office.presses("Lập biên bản")
    await make_framework(office, "Sở Công Thương", "UBND tỉnh Sơn La", "Xúc tiến.")  # not at the event
    await propose(lan)  # at the event lan registered for, running today
    await office.receive()
    await office.presses("Xác nhận cho địa phương")
    await office.taps(ShowMemo(3).encode())
    await office.presses("Đánh dấu đã ký")
    await request_contact(lan, "che tan cuong", "Chè búp")  # an expression of interest: not a memo drafted yet

    async with db.session() as session:
        stats = await programme_stats(session)
    assert stats.memos_by_kind == {"framework": 2, "province": 1, "producer": 0}
    assert stats.signed_by_kind == {"framework": 0, "province": 1, "producer": 0}
    assert stats.kinds_by_event == [(EVENT["name"], {"framework": 1, "province": 1, "producer": 0})]
    await office.says("/stats")
    assert "Biên bản theo loại (đã ký/đã lập): Khung hợp tác 0/2 · Doanh nghiệp – địa phương 1/1 · " \
        "Doanh nghiệp – chủ thể OCOP 0/0" in office.last
    assert f"Theo sự kiện và loại: {EVENT['name']}: Khung hợp tác 1, Doanh nghiệp – địa phương 1" in office.last


async def test_a_province_memo_on_telegram(sqlite_db: Database) -> None:
    async with serving(FakeTelegram()) as fake:
        async for running in run_channel(sqlite_db, fake, "polling"):
            buyer, office = running.user(303), running.user(OFFICE)
            await office.says("/help")
            await office.expect("quản trị viên")
            await registered_on_telegram(buyer)
            await buyer.expect("đã được đăng ký là người mua")
            await buyer.says("/province")
            await buyer.expect("tỉnh, thành phố nào")
            await buyer.says("Lào Cai")
            await buyer.expect("sản phẩm nào của Lào Cai")
            await buyer.says("Chè shan tuyết")
            await buyer.expect("Sản lượng dự kiến")
            await buyer.presses("Bỏ qua")
            await buyer.expect("Gửi đề xuất tới văn phòng điều phối?")
            await buyer.presses("Gửi đề xuất")
            await buyer.expect("1/2026/BBGN-DP")
            await office.expect("Siêu thị Xanh muốn hợp tác tiêu thụ sản phẩm của Lào Cai")
            await office.presses("Xác nhận cho địa phương")
            await office.expect("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-DP")
            await buyer.expect("Cả hai bên đã xác nhận biên bản 1/2026/BBGN-DP")
            document = await buyer.expect("bien-ban-ghi-nho-1.docx")
            assert document.method == "sendDocument"
            text = document_text(document.files["bien-ban-ghi-nho-1.docx"])
            assert "Số: 1/2026/BBGN-DP" in text and "Siêu thị Xanh" in text and "Lào Cai" in text

