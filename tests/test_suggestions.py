"""Suggested partners in conversation: a buyer and a producer registered for an event each get the other side ranked
with reasons, with buttons (Telegram) and numbered options (console, Zalo), in Vietnamese and English."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import select

from handlers.actions import ShowSuggestedBuyer, ShowSuggestedProducer, SuggestPartners
from handlers.app import Conversation
from models.catalog import Producer, Product
from models.clock import FakeClock
from models.db import Database
from models.events import Event, EventRole, Registration, create_event
from models.meetings import GridValues, save_grid
from models.people import User
from models.search_log import SearchLog
from models.text import normalize
from tests.chat import NO_BUTTONS, ChatUser, claim_producer, load_catalogue, make_services, register_buyer

START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
EVENT = {"name": "Kết nối cung cầu Hà Nội", "theme": "", "venue": "Cung Văn hoá Hữu nghị",
         "starts_on": "2026-12-10", "ends_on": "2026-12-11", "register_by": "2026-12-09"}


async def register_for_event(user: ChatUser, role: str) -> None:
    await user.says("/events")
    await user.presses(EVENT["name"])
    await user.presses(role)


@pytest.fixture
async def event(sqlite_db: Database) -> tuple[Conversation, ChatUser, ChatUser, ChatUser]:
    """(conversation, office, tea producer, pottery producer): both producers registered for the event."""
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, FakeClock(START)))
    office, tea, pottery = (ChatUser(conversation, name) for name in ("office", "tea", "pottery"))
    await office.says("/help")
    async with sqlite_db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        await create_event(session, admin, EVENT, START)
    await claim_producer(office, tea, "HTX Chè Hảo Đạt")
    await claim_producer(office, pottery, "Công ty TNHH Gốm Bát Tràng")
    for producer in (tea, pottery):
        await register_for_event(producer, "Đăng ký (nhà sản xuất)")
    return conversation, office, tea, pottery


async def test_a_buyer_and_a_producer_see_each_other_ranked_with_reasons(
    event: tuple[Conversation, ChatUser, ChatUser, ChatUser], sqlite_db: Database
) -> None:
    conversation, _office, tea, pottery = event
    lan = ChatUser(conversation, "lan")
    await register_buyer(lan)  # Hà Nội's region (Đồng bằng sông Hồng) is her region of interest
    await lan.says("chè Thái Nguyên")
    await register_for_event(lan, "Đăng ký (người mua)")
    await lan.says("/events")
    await lan.presses(EVENT["name"])
    assert "Gợi ý đối tác" in lan.buttons()  # on the event's view once registered

    await lan.presses("Gợi ý đối tác")
    assert lan.last.startswith("Gợi ý đối tác tại «Kết nối cung cầu Hà Nội»: chủ thể sản xuất phù hợp nhất với bạn")
    tea_line, pottery_line = lan.last.split("\n\n")[1:]
    assert tea_line.startswith("1. HTX Chè Hảo Đạt — Thái Nguyên — 7 điểm")  # search 4, 5★ 2, supermarket food 1
    assert "phù hợp với tìm kiếm «chè Thái Nguyên» của bạn" in tea_line
    assert pottery_line.startswith("2. Công ty TNHH Gốm Bát Tràng — Hà Nội — 4 điểm")
    assert "ở Đồng bằng sông Hồng, vùng bạn quan tâm" in pottery_line
    await lan.presses("1. HTX Chè Hảo Đạt")
    assert "HTX Chè Hảo Đạt — Thái Nguyên" in lan.last and "1. Chè búp Tân Cương — ★★★★★" in lan.last
    await lan.presses("Chè búp Tân Cương")
    assert "📨 Liên hệ nhà sản xuất" in lan.buttons()  # the product card, as from a search

    await tea.says("/suggest")
    assert tea.last.startswith("Gợi ý đối tác tại «Kết nối cung cầu Hà Nội»: người mua phù hợp nhất với bạn (1–1")
    assert "1. Siêu thị Xanh — Siêu thị — 7 điểm" in tea.last
    assert "đã tìm «chè Thái Nguyên», phù hợp với sản phẩm của bạn" in tea.last
    await tea.presses("1. Siêu thị Xanh")
    assert "Vùng quan tâm: Đồng bằng sông Hồng" in tea.last and "0912" not in tea.last  # no contact details
    await tea.presses("« Gợi ý đối tác")
    assert "1. Siêu thị Xanh" in tea.last

    await pottery.says("/suggest")
    assert "quan tâm đến Đồng bằng sông Hồng, nơi bạn sản xuất" in pottery.last
    async with sqlite_db.session() as session:
        logged = (await session.exec(select(SearchLog))).all()
    assert [(row.text, row.words, row.places) for row in logged] == [("chè Thái Nguyên", "che", "Thái Nguyên")]


async def test_numbered_options_and_english(event: tuple[Conversation, ChatUser, ChatUser, ChatUser]) -> None:
    conversation, _office, tea, _pottery = event
    minh = ChatUser(conversation, "minh", channel="zalo_bot", capabilities=NO_BUTTONS)
    await register_buyer(minh, company="Bếp Việt", phone="")
    await register_for_event(minh, "Đăng ký (người mua)")
    await minh.says("/suggest")
    assert "1. Công ty TNHH Gốm Bát Tràng — Hà Nội" in minh.last  # her region first
    assert "2. HTX Chè Hảo Đạt" in minh.last and "1. Công ty TNHH Gốm Bát Tràng\n" not in minh.last  # listed once
    await minh.says("2")
    assert "HTX Chè Hảo Đạt — Thái Nguyên" in minh.last and "1. Chè búp Tân Cương" in minh.last

    await tea.says("/lang")
    await tea.presses("English")
    await tea.says("/suggest")
    assert tea.last.startswith("Suggested partners at “Kết nối cung cầu Hà Nội”: the buyers who fit you best (1–1 of 1)")
    assert "1. Bếp Việt — Supermarket — score 3" in tea.last  # 5★ 2, a supermarket usually buys food 1
    assert "your 5★ products" in tea.last and "Supermarket: usually buys Food" in tea.last


async def test_paging_and_what_cannot_be_seen(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, FakeClock(START)))
    office, lan, guest, other = (ChatUser(conversation, name) for name in ("office", "lan", "guest", "other"))
    await office.says("/help")
    await register_buyer(lan)
    await register_buyer(other, company="Chợ Lớn")
    async with sqlite_db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        event_id = (await create_event(session, admin, EVENT, START)).id or 0
        for n in range(12):  # twelve producers at the event, with a product each
            producer = Producer(name=f"HTX số {n:02d}", name_key=normalize(f"HTX số {n:02d}"), kind="cooperative",
                                province="Hà Nội")
            session.add(producer)
            await session.flush()
            session.add(Product(producer_id=producer.id or 0, name=f"Bánh {n}", name_key=f"banh {n}", group=1,
                                stars=3 + n % 3, decision_date=date(2025, 1, 1)))
            person = User(display_name=f"P{n}", role="producer", producer_id=producer.id)
            session.add(person)
            await session.flush()
            session.add(Registration(event_id=event_id, user_id=person.id or 0, role=EventRole.PRODUCER.value))
    await lan.says("/suggest")
    assert lan.last.startswith("Bạn chưa đăng ký sự kiện kết nối giao thương nào")
    await lan.says(f"/suggest {event_id}")
    assert lan.last.startswith("Bạn chưa đăng ký tham dự «Kết nối cung cầu Hà Nội»")
    await register_for_event(lan, "Đăng ký (người mua)")
    await lan.says("/suggest")
    assert "(1–5 trên 12)" in lan.last
    first_page = lan.last
    await lan.presses("Xem thêm")
    assert "(6–10 trên 12)" in lan.last and lan.seen[-1].edit
    await lan.presses("Xem thêm")
    assert "(11–12 trên 12)" in lan.last and "Xem thêm" not in " ".join(lan.buttons())
    await lan.presses("Trước")
    await lan.presses("Trước")
    assert lan.last == first_page  # deterministic
    stars = [line.split(" — ")[0] for line in first_page.split("\n\n")[1:]]
    assert stars == ["1. HTX số 02", "2. HTX số 05", "3. HTX số 08", "4. HTX số 11", "5. HTX số 01"]  # 5★ by id

    # Tampered or foreign payloads: a short notice in her language, never a crash or an apology.
    async with sqlite_db.session() as session:
        other_id = (await session.exec(select(User.id).where(User.display_name == "Other"))).one()
    refused = [
        (lan, SuggestPartners(event_id, 3).encode()),  # not a page's start
        (lan, SuggestPartners(event_id, 500).encode()),  # beyond the list
        (lan, SuggestPartners(event_id + 9).encode()),  # no such event
        (lan, "sg:x"),
        (lan, ShowSuggestedBuyer(event_id, other_id).encode()),  # a buyer may not see buyers' summaries
        (guest, ShowSuggestedProducer(event_id, 1).encode()),  # not registered at the event
    ]
    for person, payload in refused:
        replies = await person.taps(payload)
        assert len(replies) == 1 and replies[0].notice and "mã lỗi" not in replies[0].text, payload


async def test_a_suggestion_offers_a_meeting_once_the_event_has_its_grid(
    event: tuple[Conversation, ChatUser, ChatUser, ChatUser], sqlite_db: Database
) -> None:
    """No grid: a suggestion opens the partner only. Once the office opens meetings, each row also books a meeting
    with that partner (a numbered option after the entry's own on channels without buttons), and it works."""
    conversation, _office, tea, _pottery = event
    lan = ChatUser(conversation, "lan")
    minh = ChatUser(conversation, "minh", channel="zalo_bot", capabilities=NO_BUTTONS)
    for buyer, company in ((lan, "Siêu thị Xanh"), (minh, "Bếp Việt")):
        await register_buyer(buyer, company=company, phone="")
        await register_for_event(buyer, "Đăng ký (người mua)")
    await tea.says("/suggest")
    assert [[button.label for button in row] for row in tea.seen[-1].buttons][:2] == [["1. Siêu thị Xanh"],
                                                                                    ["2. Bếp Việt"]]
    async with sqlite_db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        event_id = (await session.exec(select(Event.id))).one()
        await save_grid(session, admin, event_id or 0, GridValues(
            days=(date(2026, 12, 10),), hours=((time(8), time(10)),), breaks=(), slot_minutes=20, tables=3), START)
    await tea.says("/suggest")
    rows = [[button.label for button in row] for row in tea.seen[-1].buttons]
    assert rows[:2] == [["Siêu thị Xanh", "🤝 Đặt lịch gặp"], ["Bếp Việt", "🤝 Đặt lịch gặp"]]  # ties: by id
    tea.capabilities = NO_BUTTONS
    await tea.says("/suggest")
    assert tea.seen[-1].text.split("\n\n")[-1].startswith(
        "1. Siêu thị Xanh\n3. 🤝 Đặt lịch gặp\n2. Bếp Việt\n4. 🤝 Đặt lịch gặp")
    await tea.says("4")  # book with Bếp Việt: the free slots of both
    assert "10/12 08:00–08:20" in tea.last
    await tea.says("1")
    assert "Bếp Việt" in tea.last and "08:00" in tea.last
    [asked] = await minh.receive()  # the buyer is asked at once
    assert "08:00" in asked.text


async def test_only_registered_people_s_searches_are_logged(sqlite_db: Database) -> None:
    await load_catalogue(sqlite_db)
    conversation = Conversation(make_services(sqlite_db, FakeClock(START)))
    lan, guest = ChatUser(conversation, "lan"), ChatUser(conversation, "guest")
    await register_buyer(lan)
    for person in (lan, guest):
        await person.says("thực phẩm")  # five foods: one page
        await person.says("chào shop")  # chatter: nothing asked for
    await lan.says("/browse")
    for choice in ("Đồng bằng sông Hồng", "Hà Nội", "Hàng thủ công mỹ nghệ", "Từ 4"):
        await lan.presses(choice)
    async with sqlite_db.session() as session:
        logged = (await session.exec(select(SearchLog).order_by(SearchLog.id))).all()
    assert [(row.text, row.places, row.groups, row.min_stars) for row in logged] == [
        ("thực phẩm", "", "1", None), ("", "Hà Nội", "4", 4)]
