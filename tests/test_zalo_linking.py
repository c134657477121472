"""/link: a person on two channels makes them one account; nothing either account had is lost."""

from __future__ import annotations

import re

from sqlmodel import col, select

from handlers.app import Conversation
from models.clock import FakeClock
from models.db import Database
from models.linking import LinkCode
from models.memos import Memo
from models.notifications import Notification
from models.people import BuyerProfile, Identity, User
from models.requests import ContactRequest
from tests.chat import (
    NO_BUTTONS,
    ChatUser,
    claim_producer,
    load_catalogue,
    make_services,
    register_buyer,
    request_contact,
)


def code_in(text: str) -> str:
    found = re.search(r"/link (\S+)", text)
    assert found, text
    return found.group(1)


async def link(first: ChatUser, second: ChatUser) -> None:
    await first.says("/link")
    await second.says(f"/link {code_in(first.last)}")
    assert "Chỉ xác nhận nếu tài khoản kia là của bạn" in second.last
    await second.presses("Gộp tài khoản")


async def users(db: Database) -> list[User]:
    async with db.session() as session:
        return list((await session.exec(select(User).order_by(col(User.id)))).all())


async def test_a_buyer_links_zalo_and_keeps_everything(db: Database) -> None:
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    console = ChatUser(conversation, "lan")
    zalo = ChatUser(conversation, "z-lan", channel="zalo_bot", capabilities=NO_BUTTONS)
    office, producer = ChatUser(conversation, "office"), ChatUser(conversation, "hao")
    await register_buyer(console)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(console, "che tan cuong", "Chè búp")
    await zalo.says("xin chào")  # the Zalo account exists (and has its own user) before the link

    await link(console, zalo)
    assert "tài khoản của bạn trên console giờ là một" in zalo.last
    await zalo.says("/requests")
    assert "Chè búp Tân Cương" in zalo.last  # the request made on the console
    await zalo.says("/memos")
    assert "#1" in zalo.last

    await producer.receive()
    await producer.presses("Chấp nhận")
    got = await zalo.receive() or await console.receive()
    assert "0900 000 222" in got[-1].text  # the buyer is told once, on whichever channel drains first
    async with db.session() as session:
        identities = (await session.exec(select(Identity).where(Identity.external_id.in_(["lan", "z-lan"])))).all()
        assert len({identity.user_id for identity in identities}) == 1
        request = (await session.exec(select(ContactRequest))).one()
        memo = (await session.exec(select(Memo))).one()
        assert request.buyer_user_id == memo.buyer_user_id == identities[0].user_id
        assert await session.get(BuyerProfile, identities[0].user_id) is not None
    assert len(await users(db)) == 3  # lan (both channels), office, hao


async def test_the_second_account_already_has_data(sqlite_db: Database) -> None:
    """Both accounts were buyers with requests: the merged one has both requests, both memos, the fuller profile."""
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db))
    console = ChatUser(conversation, "lan")
    zalo = ChatUser(conversation, "z-lan", channel="zalo_bot", capabilities=NO_BUTTONS)
    await register_buyer(console, company="Siêu thị Xanh")
    await request_contact(console, "che tan cuong", "Chè búp")
    await zalo.says("/start")
    await zalo.says("1")
    await zalo.says("1")
    await zalo.says("Đại lý Lan")
    await zalo.says("3")
    await zalo.says("8")  # done, no region chosen: a thinner profile
    await zalo.says("0912 000 111")
    await request_contact(zalo, "gao st25", "Gạo ST25")
    async with sqlite_db.session() as session:
        owners = {r.buyer_user_id for r in (await session.exec(select(ContactRequest))).all()}
    assert len(owners) == 2

    await link(zalo, console)  # the code is asked for on Zalo and typed on the console
    await console.says("/requests")
    assert "Chè búp" in console.last and "Gạo ST25" in console.last
    await zalo.says("/memos")
    assert "#1" in zalo.last and "#2" in zalo.last
    async with sqlite_db.session() as session:
        profiles = (await session.exec(select(BuyerProfile))).all()
        assert [(p.company, len(p.regions)) for p in profiles] == [("Siêu thị Xanh", 1)]
        requests = (await session.exec(select(ContactRequest))).all()
        assert len({r.buyer_user_id for r in requests}) == 1
        assert (await session.exec(select(LinkCode))).one().user_id == requests[0].buyer_user_id
    [merged] = await users(sqlite_db)
    assert (merged.phone, merged.role) == ("0912 345 678", "buyer")


async def test_a_producer_on_zalo_links_a_buyer_account(sqlite_db: Database) -> None:
    """The richer role wins: a producer stays a producer; the buyer's old request stays theirs."""
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db))
    office, producer = ChatUser(conversation, "office"), ChatUser(conversation, "hao")
    zalo = ChatUser(conversation, "z-hao", channel="zalo_bot", capabilities=NO_BUTTONS)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await zalo.says("/start")
    await zalo.says("1")
    await zalo.says("1")
    await zalo.says("Đại lý Hảo")
    await zalo.says("1")
    await zalo.says("8")
    await zalo.says("0912 000 222")
    await request_contact(zalo, "gom bat trang", "Gốm men lam")
    await link(producer, zalo)
    await zalo.says("/help")
    assert "Bạn là nhà sản xuất OCOP" in zalo.last
    await zalo.says("/requests")
    assert "Gốm men lam" in zalo.last


async def test_refusals(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    clock = FakeClock()
    conversation = Conversation(make_services(sqlite_db, clock))
    lan, mai = ChatUser(conversation, "lan"), ChatUser(conversation, "mai")
    zalo = ChatUser(conversation, "z-lan", channel="zalo_bot", capabilities=NO_BUTTONS)
    await lan.says("/link")
    code = code_in(lan.last)
    await lan.says(f"/link {code}")
    assert "chính tài khoản này" in lan.last
    await mai.says(f"/link {code}")
    assert "cùng một kênh" in mai.last  # two console accounts are not one person's two channels
    await zalo.says("/link WRONG999")
    assert "Mã không đúng hoặc đã hết hạn" in zalo.last
    clock.advance(minutes=16)
    await zalo.says(f"/link {code}")
    assert "Mã không đúng hoặc đã hết hạn" in zalo.last
    await lan.says("/link")
    fresh = code_in(lan.last)
    await zalo.says(f"/link {fresh}")
    clock.advance(minutes=16)
    await zalo.presses("Gộp tài khoản")  # confirmed too late: nothing is merged
    assert "hết hạn" in zalo.last
    await zalo.taps("lk:yes")  # a forged confirmation without a code
    assert "không còn hiệu lực" in zalo.last
    assert len(await users(sqlite_db)) == 3


async def test_two_producers_cannot_be_one(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db))
    office = ChatUser(conversation, "office")
    hao = ChatUser(conversation, "hao")
    zalo = ChatUser(conversation, "z-gom", channel="zalo_bot", capabilities=NO_BUTTONS)
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    await office.says("/claimcode Công ty TNHH Gốm Bát Tràng")
    await office.presses("Cấp mã")
    code = office.last.split(": ")[1].split("\n")[0]
    await zalo.says("/start")
    await zalo.says("2")
    await zalo.says("Gốm Bát Tràng")
    await zalo.says("1")
    await zalo.says(code)
    assert zalo.saw("Xác nhận thành công")
    await hao.says("/link")
    await zalo.says(f"/link {code_in(hao.last)}")
    assert "hai nhà sản xuất khác nhau" in zalo.last


async def test_notifications_waiting_for_the_absorbed_account_follow_it(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db))
    office, producer = ChatUser(conversation, "office"), ChatUser(conversation, "hao")
    zalo = ChatUser(conversation, "z-hao", channel="zalo_bot", capabilities=NO_BUTTONS)
    buyer = ChatUser(conversation, "lan")
    await register_buyer(buyer)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")  # queued for the producer's console account
    await zalo.says("/link")
    await producer.says(f"/link {code_in(zalo.last)}")
    await producer.presses("Gộp tài khoản")
    notices = await zalo.receive()  # the Zalo account was absorbed into the producer: the notice reaches Zalo too
    assert any("Yêu cầu liên hệ mới #1" in n.text for n in notices)
    await zalo.says("1")  # Accept, by number
    assert "0912 345 678" in zalo.last
    async with sqlite_db.session() as session:
        hao = (await session.exec(select(Identity).where(Identity.external_id == "hao"))).one()
        waiting = select(Notification).where(Notification.user_id == hao.user_id, col(Notification.delivered_at).is_(None))
        assert (await session.exec(waiting)).all() == []


async def test_rows_that_would_be_duplicates_after_the_merge_are_dropped(db: Database) -> None:
    """Any table keyed by user (today: admin grants, event registrations) is merged without breaking its keys."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint, insert

    from models.linking import repoint

    seats = Table("test_seat", MetaData(), Column("id", Integer, primary_key=True), Column("event", String(20)),
                  Column("user_id", Integer), UniqueConstraint("event", "user_id"))
    async with db.engine.begin() as conn:
        await conn.run_sync(seats.metadata.create_all)
        rows = [("fair", 1), ("fair", 2), ("expo", 2), ("expo", 3)]
        await conn.execute(insert(seats), [{"event": e, "user_id": u} for e, u in rows])
    async with db.transaction() as session:
        await repoint(session, seats, seats.c.user_id, keep=1, absorb=2)
    async with db.engine.connect() as conn:
        left = sorted((await conn.execute(seats.select())).all(), key=lambda r: r.id)
    assert [(r.event, r.user_id) for r in left] == [("fair", 1), ("expo", 1), ("expo", 3)]
