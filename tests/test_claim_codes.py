"""/claimcode as the office uses it: the producer found is shown (name, province, products) and a code is issued
only once the office confirms; several close names are offered to pick from; a name like no producer's issues
nothing and leaves the producer's code alone."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from handlers.app import Conversation
from models.catalog_import import import_rows
from models.claims import ClaimCode
from models.db import Database
from models.tabular import read_bytes
from tests.chat import CATALOGUE, NO_BUTTONS, ChatUser, load_catalogue, make_services

# A second honey producer, so that "mật ong" names two.
U_MINH = CATALOGUE.splitlines()[0] + "\n" + (
    "Mật ong rừng tràm U Minh,Công ty TNHH Mật ong U Minh,Doanh nghiệp,\"xã Khánh Thuận, huyện U Minh, tỉnh Cà Mau\","
    "Cà Mau,Thực phẩm,4,,12/QĐ-UBND,01/04/2024,0900 000 666,,Tháng 4 – 6\n"
)


@pytest.fixture
async def conversation(db: Database) -> Conversation:
    await load_catalogue(db)
    await import_rows(db, read_bytes(U_MINH.encode(), "u-minh.csv"))
    return Conversation(make_services(db))


async def codes(conversation: Conversation) -> list[ClaimCode]:
    async with conversation.services.db.session() as session:
        return list((await session.exec(select(ClaimCode).order_by(col(ClaimCode.id)))).all())


async def test_the_office_sees_the_producer_and_confirms(conversation: Conversation) -> None:
    office = ChatUser(conversation, "office")
    await office.says("/claimcode hảo đạt")
    assert office.last.startswith("Cấp mã nhận hồ sơ cho chủ thể này?\nHTX Chè Hảo Đạt — Thái Nguyên — 1 sản phẩm")
    assert office.buttons() == ["Cấp mã", "Huỷ"]
    assert await codes(conversation) == []  # nothing issued before the office says so

    await office.presses("Cấp mã")
    assert office.last.startswith("Mã nhận hồ sơ cho «HTX Chè Hảo Đạt»: CODE0001")
    assert len(await codes(conversation)) == 1
    await office.presses("Cấp mã")  # pressed twice: the second press issues nothing
    assert "Lựa chọn này đã hết hạn" in office.last
    assert len(await codes(conversation)) == 1


async def test_a_name_like_no_producer_issues_nothing_and_keeps_the_code(conversation: Conversation) -> None:
    office, hao = ChatUser(conversation, "office"), ChatUser(conversation, "hao")
    await office.says("/claimcode HTX Mật ong Mèo Vạc")
    await office.presses("Cấp mã")
    code = office.last.split(": ")[1].split("\n")[0]

    await office.says("/claimcode xyz không tồn tại")
    assert office.last.startswith("Không tìm thấy chủ thể nào giống «xyz không tồn tại». Chưa cấp mã nào.")
    assert office.buttons() == []
    await office.says("/claimcode HTX Thốt nốt Tri Tôn")  # a name of the sample, not of this catalogue
    assert "Không tìm thấy chủ thể" in office.last
    await office.says("/claimcode #999")
    assert "Không tìm thấy chủ thể" in office.last
    assert len(await codes(conversation)) == 1

    await hao.says("/start")
    await hao.presses("chủ thể sản xuất")
    await hao.says("meo vac")
    await hao.presses("HTX Mật ong Mèo Vạc")
    await hao.says(code)  # the code issued before still works
    assert hao.saw("Xác nhận thành công")


async def test_several_close_names_the_office_picks_one(conversation: Conversation) -> None:
    office = ChatUser(conversation, "office")
    await office.says("/claimcode mật ong")
    assert office.last == "Cấp mã cho chủ thể nào?"
    assert office.buttons() == ["HTX Mật ong Mèo Vạc — Tuyên Quang — 1 sản phẩm",
                                "Công ty TNHH Mật ong U Minh — Cà Mau — 1 sản phẩm", "Huỷ"]
    await office.presses("U Minh")
    assert "Công ty TNHH Mật ong U Minh — Cà Mau — 1 sản phẩm" in office.last
    await office.presses("Cấp mã")
    assert office.last.startswith("Mã nhận hồ sơ cho «Công ty TNHH Mật ong U Minh»")


async def test_cancelling_issues_nothing_and_cancels_no_code(conversation: Conversation) -> None:
    office = ChatUser(conversation, "office")
    await office.says("/claimcode HTX Chè Hảo Đạt")
    await office.presses("Cấp mã")
    await office.says("/claimcode HTX Chè Hảo Đạt")
    await office.presses("Huỷ")
    assert "Cấp mã" not in office.buttons()
    [only] = await codes(conversation)
    assert only.expires_at.replace(tzinfo=None) > conversation.services.clock.now().replace(tzinfo=None)


async def test_numbered_on_a_channel_without_buttons(conversation: Conversation) -> None:
    office = ChatUser(conversation, "9000", channel="telegram")  # an admin by the config
    zalo_office = ChatUser(conversation, "office", capabilities=NO_BUTTONS)
    await zalo_office.says("/claimcode mat ong")
    assert "1. HTX Mật ong Mèo Vạc — Tuyên Quang — 1 sản phẩm" in zalo_office.last
    assert "2. Công ty TNHH Mật ong U Minh — Cà Mau — 1 sản phẩm" in zalo_office.last
    await zalo_office.says("7")
    assert "Câu trả lời đó không có trong các lựa chọn" in zalo_office.last and "2. Công ty" in zalo_office.last
    await zalo_office.says("1")
    assert "HTX Mật ong Mèo Vạc — Tuyên Quang" in zalo_office.last and "1. Cấp mã" in zalo_office.last
    await zalo_office.says("1")
    assert zalo_office.last.startswith("Mã nhận hồ sơ cho «HTX Mật ong Mèo Vạc»")
    await office.says("/claimcode 1")  # by id
    assert "HTX Mật ong Mèo Vạc" in office.last and office.buttons() == ["Cấp mã", "Huỷ"]


async def test_only_admins_and_no_tampering(conversation: Conversation) -> None:
    office, mai = ChatUser(conversation, "office"), ChatUser(conversation, "mai")
    await mai.says("/claimcode HTX Chè Hảo Đạt")
    assert "không có quyền" in mai.last
    await mai.taps("f:claimcode:confirm:yes")
    assert "không có quyền" in mai.last
    await mai.taps("cc:2")
    assert "không có quyền" in mai.last

    await office.says("/claimcode mật ong")
    await office.taps("f:claimcode:pick:3")  # a producer that was not offered
    assert "không còn hiệu lực" in office.last
    await office.taps("f:claimcode:pick:99999999999")
    assert "không còn hiệu lực" in office.last
    await office.taps("cc:999")
    assert "không còn nữa" in office.last
    await office.taps("cc:2")  # a producer's button of an earlier list: shown, to confirm
    assert "HTX Chè Hảo Đạt — Thái Nguyên" in office.last
    assert await codes(conversation) == []
