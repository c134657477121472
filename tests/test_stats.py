"""/stats on a known dataset: the numbers, the short text and the PNG chart."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

from handlers.app import Conversation
from handlers.messages import Attachment
from models.catalog import Product
from models.catalog_admin import set_hidden, set_stars
from models.charts import PNG_SIGNATURE, Panel, bar_panels_png
from models.clock import TIMEZONE, FakeClock
from models.db import Database
from models.events import EventRole, create_event, register
from models.memos import Memo
from models.people import User
from models.requests import ContactPolicy, ContactRequest, answer_request, create_request, expire_overdue
from models.stats import programme_stats, weekly_trend
from tests.chat import NO_BUTTONS, ChatUser, claim_producer, load_catalogue, make_services, register_buyer

START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
EVENT = {"name": "Hội chợ OCOP cuối năm", "theme": "", "venue": "Hà Nội", "starts_on": "2026-12-02",
         "ends_on": "2026-12-03", "register_by": "2026-12-01"}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def known_dataset(db: Database) -> ChatUser:
    """Five requests from two buyers: 2 accepted (after 2 h and 10 h), 1 declined (6 h), 1 expired, 1 pending made
    during an event the buyer registered for. Returns the office."""
    await load_catalogue(db)
    clock = FakeClock(START)
    conversation = Conversation(make_services(db, clock))
    office, lan, binh, hao = (ChatUser(conversation, name) for name in ("office", "lan", "binh", "hao"))
    await office.says("/help")
    await register_buyer(lan)
    await register_buyer(binh, company="Đại lý Bình")
    await claim_producer(office, hao, "HTX Chè Hảo Đạt")
    policy = ContactPolicy()
    async with db.transaction() as session:
        users = {u.display_name: u for u in (await session.exec(select(User))).all()}
        event = await create_event(session, users["Office"], EVENT, START)
        await register(session, users["Binh"], event.id or 0, EventRole.BUYER, START)
        for product_id in (1, 2, 3, 4):
            await create_request(session, users["Lan"], product_id, message="Cần hàng", volume="", season="",
                                 policy=policy, now=START)
        await answer_request(session, users["Office"], 1, accept=True, now=START + timedelta(hours=2))
        await answer_request(session, users["Hao"], 2, accept=False, now=START + timedelta(hours=6))
        await answer_request(session, users["Office"], 3, accept=True, now=START + timedelta(hours=10))
        await create_request(session, users["Binh"], 5, message="Cần gốm", volume="", season="", policy=policy,
                             now=START + timedelta(days=5))  # 2 December: at the event
        await expire_overdue(session, policy, START + timedelta(days=8))
    clock.advance(days=8)
    return office


async def test_numbers_on_a_known_dataset(db: Database) -> None:
    await known_dataset(db)
    async with db.session() as session:
        stats = await programme_stats(session)
    assert (stats.products, stats.products_by_stars, stats.products_by_group) == (5, {4: 3, 5: 2}, {1: 4, 4: 1})
    assert (stats.potential_5, stats.producers_in_catalogue, stats.buyers, stats.producers) == (1, 5, 2, 1)
    assert stats.requests == {"pending": 1, "accepted": 2, "declined": 1, "expired": 1}
    assert stats.acceptance_rate == 0.5
    assert stats.median_response == timedelta(hours=6)
    assert stats.memos == {"interest": 1, "draft": 2, "confirmed": 0, "signed": 0, "declined": 1, "expired": 1}
    assert stats.memos_by_region == {
        "Trung du và miền núi phía Bắc": 2, "Đồng bằng sông Cửu Long": 2, "Đồng bằng sông Hồng": 1}
    assert stats.memos_by_province == {"An Giang": 1, "Cần Thơ": 1, "Hà Nội": 1, "Thái Nguyên": 1, "Tuyên Quang": 1}
    assert stats.memos_by_event == [("Hội chợ OCOP cuối năm", 1)]


async def test_stats_text_and_chart(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    await office.says("/stats")
    message = office.seen[-1]
    lines = message.text.split("\n")
    assert lines[0] == "📊 Thống kê chương trình (05/12/2026 10:00)"
    assert lines[1] == "Sản phẩm: 5 (4★ 3 · 5★ 2; tiềm năng 5★: 1)"
    assert lines[2] == "Theo nhóm: Thực phẩm 4, Hàng thủ công mỹ nghệ 1"
    assert lines[4] == "Đã đăng ký: 2 người mua, 1 nhà sản xuất"
    assert lines[5] == "Yêu cầu liên hệ: 5 — chờ 1, chấp nhận 2, từ chối 1, hết hạn 1"
    assert lines[6] == "Tỷ lệ chấp nhận (trên các yêu cầu đã kết thúc): 50% · Thời gian phản hồi trung vị: 6.0 giờ"
    assert lines[7] == "Biên bản ghi nhớ: 5 — quan tâm 1, dự thảo 2, bị từ chối 1, hết hạn 1"
    assert lines[8] == ("Biên bản theo vùng: Trung du và miền núi phía Bắc 2, Đồng bằng sông Cửu Long 2, "
                        "Đồng bằng sông Hồng 1")
    assert lines[10] == "Theo sự kiện: Hội chợ OCOP cuối năm 1"
    chart = message.photo
    assert isinstance(chart, Attachment) and chart.mime == "image/png" and chart.filename.endswith(".png")
    assert png_size(chart.data) == (1200, 1080)
    assert len(chart.data) > 20_000  # six panels of bars and labels, not an empty canvas


async def test_stats_in_english_and_on_a_channel_without_files(sqlite_db: Database) -> None:
    office = await known_dataset(sqlite_db)
    office.capabilities = NO_BUTTONS
    await office.says("/lang")
    await office.says("2")
    await office.says("/stats")
    assert office.last.startswith("📊 Programme statistics")
    assert "Acceptance rate (of closed requests): 50% · Median response time: 6.0 hours" in office.last
    assert office.seen[-1].photo == "" and office.seen[-1].document is None


async def test_stats_of_an_empty_programme(sqlite_db: Database) -> None:
    office = ChatUser(Conversation(make_services(sqlite_db)), "office")
    await office.says("/stats")
    assert "Tỷ lệ chấp nhận (trên các yêu cầu đã kết thúc): — · Thời gian phản hồi trung vị: —" in office.last
    assert "Theo sự kiện: —" in office.last
    chart = office.seen[-1].photo
    assert isinstance(chart, Attachment) and png_size(chart.data) == (1200, 1080)


@pytest.mark.parametrize("columns", [1, 2, 3])
def test_chart_grid_size(columns: int) -> None:
    panels = [Panel(f"Panel {n}", ["a", "b"], [n, n + 1]) for n in range(4)]
    rows = -(-4 // columns)
    assert png_size(bar_panels_png("Grid", panels, columns=columns, dpi=50)) == (300 * columns, 180 * rows)


def test_a_chart_needs_panels() -> None:
    with pytest.raises(ValueError, match="nothing to draw"):
        bar_panels_png("Empty", [])


async def test_catalogue_figures_follow_every_change_whoever_makes_it(sqlite_db: Database) -> None:
    """The catalogue figures are read once per catalogue version: an office edit here, or a hide made by another
    process on the same database, shows at the next /stats."""
    office = await known_dataset(sqlite_db)
    async with sqlite_db.session() as session:
        before = await programme_stats(session)
        assert await programme_stats(session) == before  # served again without a change
    async with sqlite_db.transaction() as session:
        admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        product = (await session.exec(select(Product).where(Product.stars == 4))).first()
        assert product is not None and office
        await set_stars(session, admin, product.id or 0, 5, START)
    async with sqlite_db.session() as session:
        starred = await programme_stats(session)
    assert starred.products_by_stars == {4: before.products_by_stars[4] - 1, 5: before.products_by_stars[5] + 1}
    other = Database(sqlite_db.url.render_as_string(hide_password=False))  # another replica's engine
    try:
        async with other.transaction() as session:
            admin = (await session.exec(select(User).where(User.display_name == "Office"))).one()
            await set_hidden(session, admin, product.id or 0, True, START)
    finally:
        await other.dispose()
    async with sqlite_db.session() as session:
        hidden = await programme_stats(session)
    assert hidden.products == before.products - 1
    assert sum(hidden.products_by_region.values()) == hidden.products
    assert hidden.products_by_stars[5] == before.products_by_stars[5]


async def test_weekly_trend_counts_vietnam_weeks(db: Database) -> None:
    """Requests and signed memos land in the Monday-to-Sunday week of Vietnam time, edges included."""
    await known_dataset(db)
    now = datetime(2026, 12, 9, 5, 0, tzinfo=UTC)  # Wednesday 9 December, 12:00 in Hà Nội
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=TIMEZONE)  # the current week starts here
    async with db.transaction() as session:
        requests = (await session.exec(select(ContactRequest).order_by(col(ContactRequest.id)))).all()
        moments = [monday, monday - timedelta(microseconds=1), monday - timedelta(weeks=7),
                   monday - timedelta(weeks=7, microseconds=1), now]
        for request, moment in zip(requests, moments, strict=True):
            request.created_at = moment
        memo = (await session.exec(select(Memo))).first()
        assert memo is not None
        memo.signed_at = monday + timedelta(days=6, hours=23, minutes=59)  # Sunday 23:59, still this week
    async with db.session() as session:
        weeks = await weekly_trend(session, now)
    assert (weeks[0].start, weeks[-1].start) == (date(2026, 10, 19), date(2026, 12, 7))
    assert [w.requests for w in weeks] == [1, 0, 0, 0, 0, 0, 1, 2]  # the one before the first Monday is left out
    assert [w.signed for w in weeks] == [0, 0, 0, 0, 0, 0, 0, 1]
