"""One-time codes cannot be guessed by trying: wrong claim codes are counted on the code, wrong link codes on the
user, both on the server, so starting again, picking again or waiting a moment gives no new tries."""

from __future__ import annotations

import re

from sqlmodel import col, select

from handlers.app import Conversation
from models.claims import ClaimCode
from models.clock import FakeClock
from models.db import Database
from models.linking import LinkGuess
from models.people import Identity, User
from tests.chat import NO_BUTTONS, ChatUser, load_catalogue, make_services

PRODUCER = "HTX Chè Hảo Đạt"


async def pick_the_record(user: ChatUser) -> None:
    await user.says("/start")
    await user.presses("chủ thể sản xuất")
    await user.says("hao dat")
    await user.presses(PRODUCER)
    assert "Nhập mã nhận hồ sơ" in user.last


async def producer_of(db: Database, name: str) -> int | None:
    async with db.session() as session:
        identity = (await session.exec(select(Identity).where(Identity.external_id == name))).one()
        user = await session.get(User, identity.user_id)
    assert user is not None
    return user.producer_id


async def test_the_sixth_claim_code_is_refused_however_the_record_is_picked_again(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    office, mai = ChatUser(conversation, "office"), ChatUser(conversation, "mai")
    tuan = ChatUser(conversation, "tuan", channel="zalo_bot", capabilities=NO_BUTTONS)
    await office.says(f"/claimcode {PRODUCER}")
    await office.presses("Cấp mã")
    code = office.last.split(": ")[1].split("\n")[0]

    await pick_the_record(mai)
    for left in (4, 3):
        await mai.says("WRONG123")
        assert f"còn {left} lần thử" in mai.last
    await pick_the_record(mai)  # starting again gives no new tries
    await mai.says("WRONG456")
    assert "còn 2 lần thử" in mai.last
    await pick_the_record(tuan)  # nor does another account
    await tuan.says("WRONG789")
    assert "còn 1 lần thử" in tuan.last
    await mai.says("WRONG000")
    assert "sai quá nhiều lần" in mai.last and "cấp mã mới" in mai.last

    await pick_the_record(mai)
    await mai.says(code)  # the sixth try, and the right code: refused, the code is void
    assert "sai quá nhiều lần" in mai.last
    await pick_the_record(tuan)
    await tuan.says(code)
    assert "sai quá nhiều lần" in tuan.last
    assert await producer_of(db, "mai") is None and await producer_of(db, "tuan") is None
    async with db.session() as session:
        claim = (await session.exec(select(ClaimCode))).one()
    assert (claim.failed_attempts, claim.used_at) == (5, None)

    await office.says(f"/claimcode {PRODUCER}")  # the office issues a new code: five tries again
    await office.presses("Cấp mã")
    fresh = office.last.split(": ")[1].split("\n")[0]
    await pick_the_record(tuan)
    await tuan.says("WRONG111")
    assert "còn 4 lần thử" in tuan.last
    await tuan.says(fresh)
    assert tuan.saw("Xác nhận thành công")
    assert await producer_of(db, "tuan") is not None


async def test_a_record_without_a_code_says_so_without_counting(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    mai = ChatUser(Conversation(make_services(sqlite_db)), "mai")
    await pick_the_record(mai)
    await mai.says("WRONG123")
    assert "Mã không đúng hoặc đã hết hạn." in mai.last and "lần thử" not in mai.last
    assert "Nhập mã nhận hồ sơ" in mai.last  # asked again


def code_in(text: str) -> str:
    found = re.search(r"/link (\S+)", text)
    assert found, text
    return found.group(1)


async def test_wrong_link_codes_are_limited_per_user(db: Database) -> None:
    await load_catalogue(db)
    clock = FakeClock()
    conversation = Conversation(make_services(db, clock))
    lan = ChatUser(conversation, "lan")
    guesser = ChatUser(conversation, "z-lan", channel="zalo_bot", capabilities=NO_BUTTONS)
    await lan.says("/link")
    code = code_in(lan.last)
    for left in (4, 3, 2, 1):
        await guesser.says("/link WRONG999")
        assert f"Mã không đúng hoặc đã hết hạn. Bạn còn {left} lần thử." in guesser.last
    clock.advance(minutes=5)
    await guesser.says("/link WRONG999")
    assert "sai mã liên kết quá nhiều lần" in guesser.last and "sau 10 phút" in guesser.last
    await guesser.says(f"/link {code}")  # the right code, the sixth try: refused unread
    assert "sai mã liên kết quá nhiều lần" in guesser.last and "Chỉ xác nhận" not in guesser.last
    clock.advance(minutes=9)
    await guesser.says("/link WRONG999")
    assert "sau 1 phút" in guesser.last
    async with db.session() as session:
        assert len((await session.exec(select(LinkGuess))).all()) == 5  # refused tries are not recorded

    clock.advance(minutes=1)  # the first four wrong codes are out of the window: four tries again
    await lan.says("/link")  # (the first code expired meanwhile)
    await guesser.says(f"/link {code_in(lan.last)}")
    assert "Chỉ xác nhận nếu tài khoản kia là của bạn" in guesser.last
    await guesser.presses("Gộp tài khoản")
    assert "giờ là một" in guesser.last
    async with db.session() as session:
        users = {identity.user_id for identity in (await session.exec(
            select(Identity).where(col(Identity.external_id).in_(["lan", "z-lan"])))).all()}
        guesses = (await session.exec(select(LinkGuess))).all()
    assert len(users) == 1
    assert {guess.user_id for guess in guesses} <= users  # the merged account keeps its count
