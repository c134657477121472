"""Meetings at events, in the domain: the grid, the booking rules, concurrency (exactly one of many concurrent
bookings of a slot wins, on PostgreSQL too), reminders with the injectable clock, and a memo from a meeting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from handlers.meetings import send_reminders
from models.catalog import Product
from models.clock import FakeClock
from models.db import Database
from models.errors import NotAuthorised, QuotaExceeded, StaleAction
from models.meetings import (
    Booking,
    InvalidGrid,
    Meeting,
    MeetingPolicy,
    MeetingSlot,
    MeetingStatus,
    NotAtEvent,
    Side,
    SlotTaken,
    answer,
    book,
    cancel,
    due_reminders,
    free_slots,
    mark,
    memo_from_meeting,
    parse_windows,
    propose,
    save_grid,
    slot_times,
    slots_of,
    tables_of,
)
from models.memos import Memo
from models.notifications import Notification
from models.people import User
from tests.chat import load_catalogue, make_services
from tests.meeting_people import People, day_grid, event_with_people, open_grid

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
POLICY = MeetingPolicy(quota=3)


@pytest.fixture
async def people(db: Database) -> People:
    await load_catalogue(db)
    found = await event_with_people(db, NOW, buyers=12, producers=3)
    await open_grid(db, found, day_grid(tables=2), NOW)
    return found


async def _slots(db: Database, event_id: int) -> list[MeetingSlot]:
    async with db.session() as session:
        return await slots_of(session, event_id)


async def _book(db: Database, user: User, side: Side, booking: Booking, slot_id: int,
                policy: MeetingPolicy = POLICY) -> Meeting:
    async with db.transaction() as session:
        me = await session.get(User, user.id)
        assert me is not None
        return await book(session, me, side, booking, slot_id, policy, NOW)


def test_slots_follow_hours_breaks_and_length() -> None:
    values = day_grid(hours=parse_windows("8:00-10:00, 13h30-14h30"), breaks=parse_windows("9:00-9:30"),
                      minutes=20)
    local = [start.astimezone(UTC).hour * 60 + start.minute + 7 * 60 for start, _end in slot_times(values)]
    assert [f"{m // 60:02d}:{m % 60:02d}" for m in local] == [
        "08:00", "08:20", "08:40", "09:40", "13:30", "13:50", "14:10"]  # 09:00 and 09:20 overlap the break
    for wrong in ("8-12", "12:00-08:00", "ăn trưa", "8:00-12:00 và hơn"):
        with pytest.raises(InvalidGrid):
            parse_windows(wrong)


async def test_grid_is_refused_outside_the_event_and_changes_notify(db: Database, people: People) -> None:
    assert len(await _slots(db, people.event_id)) == 12  # 08:00–12:00 in 20 minutes
    async with db.transaction() as session:
        office = await session.get(User, people.office.id)
        assert office is not None
        with pytest.raises(InvalidGrid):
            await save_grid(session, office, people.event_id,
                            day_grid().__class__(days=(NOW.date(),), hours=((time(8), time(9)),), breaks=(),
                                                 slot_minutes=20, tables=1), NOW)
        with pytest.raises(NotAuthorised):
            buyer = await session.get(User, people.buyers[0].id)
            assert buyer is not None
            await save_grid(session, buyer, people.event_id, day_grid(), NOW)
    slots = await _slots(db, people.event_id)
    producer_id = people.producers[0].producer_id or 0
    kept = await _book(db, people.office, Side.OFFICE, Booking(people.event_id, people.buyers[0].id or 0,
                                                                producer_id), slots[0].id or 0)
    gone = await _book(db, people.office, Side.OFFICE, Booking(people.event_id, people.buyers[1].id or 0,
                                                                producer_id), slots[-1].id or 0)
    # The office shortens the day to 08:00–11:00 and keeps one table: the 11:40 meeting is cancelled.
    async with db.transaction() as session:
        office = await session.get(User, people.office.id)
        assert office is not None
        _grid, dropped = await save_grid(session, office, people.event_id,
                                         day_grid(tables=1, hours=((time(8), time(11)),)), NOW)
        assert [m.id for m in dropped] == [gone.id]
        assert len(await slots_of(session, people.event_id)) == 9 and len(await tables_of(session, people.event_id)) == 1
        assert (await session.get(Meeting, kept.id)).status == "accepted"  # type: ignore[union-attr]
        assert (await session.get(Meeting, gone.id)).active_slot is None  # type: ignore[union-attr]


async def test_request_answer_propose_and_cancel(db: Database, people: People) -> None:
    slots = await _slots(db, people.event_id)
    buyer, maker = people.buyers[0], people.producers[0]
    booking = Booking(people.event_id, buyer.id or 0, maker.producer_id or 0)
    first = await _book(db, buyer, Side.BUYER, booking, slots[0].id or 0)
    assert (first.status, first.awaiting) == ("requested", Side.PRODUCER)
    async with db.transaction() as session:
        with pytest.raises(NotAuthorised):  # the asking side does not answer its own request
            await answer(session, await session.get(User, buyer.id), first.id or 0, accept=True, now=NOW)  # type: ignore[arg-type]
    async with db.transaction() as session:
        old, new = await propose(session, await session.get(User, maker.id), first.id or 0,  # type: ignore[arg-type]
                                 slots[3].id or 0, POLICY, NOW)
        assert (old.status, new.status, new.awaiting, new.replaces_id) == ("moved", "requested", Side.BUYER, old.id)
    async with db.transaction() as session:
        with pytest.raises(StaleAction):  # too late: the slot has begun
            await answer(session, await session.get(User, buyer.id), new.id or 0, accept=True,  # type: ignore[arg-type]
                         now=slots[3].starts_at)
    async with db.transaction() as session:
        accepted = await answer(session, await session.get(User, buyer.id), new.id or 0, accept=True, now=NOW)  # type: ignore[arg-type]
        assert accepted.status == "accepted"
    async with db.transaction() as session:
        with pytest.raises(StaleAction):  # answered already
            await answer(session, await session.get(User, maker.id), new.id or 0, accept=False, now=NOW)  # type: ignore[arg-type]
    async with db.session() as session:
        assert slots[0].id in {s.id for s in await free_slots(session, booking, NOW)}  # the moved slot is free again
        assert slots[3].id not in {s.id for s in await free_slots(session, booking, NOW)}
    async with db.transaction() as session:
        with pytest.raises(NotAuthorised):  # a stranger cannot cancel
            await cancel(session, await session.get(User, people.buyers[1].id), new.id or 0, NOW)  # type: ignore[arg-type]
        cancelled = await cancel(session, await session.get(User, maker.id), new.id or 0, NOW)  # type: ignore[arg-type]
        assert (cancelled.status, cancelled.active_slot) == ("cancelled", None)


async def test_nobody_and_no_table_twice_in_a_slot_and_the_quota(db: Database, people: People) -> None:
    slots = await _slots(db, people.event_id)
    b0, b1, b2 = (people.buyers[n].id or 0 for n in range(3))
    p0, p1, p2 = (people.producers[n].producer_id or 0 for n in range(3))
    slot = slots[0].id or 0
    await _book(db, people.buyers[0], Side.BUYER, Booking(people.event_id, b0, p0), slot)
    with pytest.raises(SlotTaken) as taken:  # the buyer is busy then
        await _book(db, people.buyers[0], Side.BUYER, Booking(people.event_id, b0, p1), slot)
    assert taken.value.who == "buyer"
    with pytest.raises(SlotTaken) as taken:  # the producer is busy then
        await _book(db, people.buyers[1], Side.BUYER, Booking(people.event_id, b1, p0), slot)
    assert taken.value.who == "producer"
    await _book(db, people.buyers[1], Side.BUYER, Booking(people.event_id, b1, p1), slot)  # the second table
    with pytest.raises(SlotTaken) as taken:  # two tables, both taken
        await _book(db, people.buyers[2], Side.BUYER, Booking(people.event_id, b2, p2), slot)
    assert taken.value.who == "tables"
    async with db.session() as session:
        assert slot not in {s.id for s in await free_slots(session, Booking(people.event_id, b2, p2), NOW)}
    for n in (1, 2):
        await _book(db, people.buyers[0], Side.BUYER, Booking(people.event_id, b0, p0), slots[n].id or 0)
    with pytest.raises(QuotaExceeded):  # 3 a person
        await _book(db, people.buyers[0], Side.BUYER, Booking(people.event_id, b0, p2), slots[5].id or 0)
    with pytest.raises(NotAtEvent):  # the office is no buyer at the event
        await _book(db, people.buyers[0], Side.BUYER,
                    Booking(people.event_id, people.office.id or 0, p2), slots[5].id or 0)
    async with db.session() as session:
        tables = {m.table_id for m in (await session.exec(select(Meeting).where(Meeting.active_slot == slot))).all()}
    assert len(tables) == 2


async def test_concurrent_bookings_of_one_slot_exactly_one_wins(db: Database, people: People) -> None:
    """Every buyer asks the same producer for the same slot at once: one meeting, the others a clear answer."""
    slot = (await _slots(db, people.event_id))[0].id or 0
    producer_id = people.producers[0].producer_id or 0

    async def attempt(buyer: User) -> str:
        try:
            await _book(db, buyer, Side.BUYER, Booking(people.event_id, buyer.id or 0, producer_id), slot)
        except SlotTaken as taken:
            return f"taken:{taken.who}"
        return "booked"

    results = await asyncio.gather(*(attempt(buyer) for buyer in people.buyers))
    assert sorted(results) == ["booked"] + ["taken:producer"] * (len(people.buyers) - 1)
    async with db.session() as session:
        held = (await session.exec(select(Meeting).where(Meeting.active_slot == slot))).all()
    assert len(held) == 1


async def test_concurrent_bookings_of_one_table_many_producers(db: Database, people: People) -> None:
    """Three pairs race for a slot with two tables: two meetings at two tables, the third told none is free."""
    await open_grid(db, people, day_grid(tables=2), NOW)
    slot = (await _slots(db, people.event_id))[1].id or 0
    pairs = [(people.buyers[n], people.producers[n].producer_id or 0) for n in range(3)]

    async def attempt(buyer: User, producer_id: int) -> str:
        try:
            await _book(db, buyer, Side.BUYER, Booking(people.event_id, buyer.id or 0, producer_id), slot)
        except SlotTaken as taken:
            return f"taken:{taken.who}"
        return "booked"

    results = await asyncio.gather(*(attempt(b, p) for b, p in pairs))
    assert sorted(results) == ["booked", "booked", "taken:tables"]
    async with db.session() as session:
        held = (await session.exec(select(Meeting).where(Meeting.active_slot == slot))).all()
    assert len({m.table_id for m in held}) == 2


async def test_reminder_fifteen_minutes_before_once(db: Database, people: People) -> None:
    slots = await _slots(db, people.event_id)
    booking = Booking(people.event_id, people.buyers[0].id or 0, people.producers[0].producer_id or 0)
    await _book(db, people.office, Side.OFFICE, booking, slots[2].id or 0)  # 08:40
    clock = FakeClock(slots[2].starts_at - timedelta(minutes=16))
    before = timedelta(minutes=15)
    async with db.transaction() as session:
        assert await due_reminders(session, clock.now(), before) == []
    clock.advance(minutes=1)
    async with db.transaction() as session:
        due = await due_reminders(session, clock.now(), before)
        assert [(v.buyer.id, v.producer.id) for v in due] == [(booking.buyer_user_id, booking.producer_id)]
    async with db.transaction() as session:
        assert await due_reminders(session, clock.now(), before) == []  # once


async def test_held_no_show_and_memo_from_meeting(db: Database, people: People) -> None:
    slots = await _slots(db, people.event_id)
    buyer, maker = people.buyers[0], people.producers[0]
    booking = Booking(people.event_id, buyer.id or 0, maker.producer_id or 0)
    meeting = await _book(db, people.office, Side.OFFICE, booking, slots[0].id or 0)
    later = slots[0].starts_at + timedelta(minutes=25)
    async with db.transaction() as session:
        me = await session.get(User, maker.id)
        product_id = (await session.exec(select(Memo.id))).first()  # no memo yet
        assert product_id is None
        product = (await session.exec(select(Product).where(Product.producer_id == maker.producer_id))).first()
        assert product is not None and me is not None
        with pytest.raises(StaleAction):  # not begun yet
            await memo_from_meeting(session, me, meeting.id or 0, product.id or 0, NOW)
        with pytest.raises(NotAuthorised):
            await mark(session, me, meeting.id or 0, True, later)
        office = await session.get(User, people.office.id)
        assert office is not None
        await mark(session, office, meeting.id or 0, True, later)
        memo = await memo_from_meeting(session, me, meeting.id or 0, product.id or 0, later)
        assert (memo.status, memo.meeting_id, memo.event_id, memo.buyer_user_id) == (
            "draft", meeting.id, people.event_id, buyer.id)
        assert memo.buyer_company == "Công ty Mua 0" and memo.number.endswith("BBGN-OCOP")
        buyer_user = await session.get(User, buyer.id)
        assert buyer_user is not None
        with pytest.raises(StaleAction):  # one memo per product and meeting, whichever side starts it
            await memo_from_meeting(session, buyer_user, meeting.id or 0, product.id or 0, later)
        held = await session.get(Meeting, meeting.id)
        assert held is not None and held.status == MeetingStatus.HELD.value


async def test_a_grid_change_waits_for_a_booking_under_way(db: Database, people: People) -> None:
    """PostgreSQL: the office shortens the day while a booking of its last slot is being made; the change waits
    for the booking to commit, then cancels it (and returns it, for both sides to be told)."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time")
    last = (await _slots(db, people.event_id))[-1]  # 11:40
    buyer = people.buyers[0]

    async def shorten() -> list[int]:
        async with db.transaction() as session:
            office = await session.get(User, people.office.id)
            assert office is not None
            _grid, dropped = await save_grid(session, office, people.event_id,
                                             day_grid(tables=2, hours=((time(8), time(11)),)), NOW)
            return [m.id or 0 for m in dropped]

    async def change_is_waiting() -> bool:
        async with db.session() as session:
            waiting = await session.exec(text(  # type: ignore[call-overload]
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
            return bool(waiting.one()[0])

    async with db.transaction() as session:
        me = await session.get(User, buyer.id)
        assert me is not None
        meeting = await book(session, me, Side.BUYER, Booking(people.event_id, buyer.id or 0,
                                                              people.producers[0].producer_id or 0),
                             last.id or 0, POLICY, NOW)
        change = asyncio.create_task(shorten())
        for _poll in range(1000):  # the barrier: the change's lock request is queued behind this booking
            if await change_is_waiting():
                break
            await asyncio.sleep(0.01)
        assert not change.done()
    assert await change == [meeting.id]


async def test_a_request_left_unanswered_lapses_when_its_slot_begins(db: Database, people: People) -> None:
    """Housekeeping lapses a request nobody answered once its slot has begun: both sides are told, the slot is
    free again for both people, and an answered meeting is left alone."""
    slots = await _slots(db, people.event_id)
    waiting = await _book(db, people.buyers[0], Side.BUYER, Booking(
        people.event_id, people.buyers[0].id or 0, people.producers[0].producer_id or 0), slots[1].id or 0)
    later = await _book(db, people.buyers[1], Side.BUYER, Booking(
        people.event_id, people.buyers[1].id or 0, people.producers[1].producer_id or 0), slots[3].id or 0)
    clock = FakeClock(slots[1].starts_at - timedelta(seconds=1))
    services = make_services(db, clock)
    await send_reminders(services)
    async with db.session() as session:
        assert (await session.get(Meeting, waiting.id)).status == MeetingStatus.REQUESTED.value  # type: ignore[union-attr]
    clock.advance(seconds=1)  # the slot begins
    await send_reminders(services)
    async with db.session() as session:
        lapsed = await session.get(Meeting, waiting.id)
        assert lapsed is not None and (lapsed.status, lapsed.active_slot) == (MeetingStatus.LAPSED.value, None)
        assert (await session.get(Meeting, later.id)).status == MeetingStatus.REQUESTED.value  # type: ignore[union-attr]
        told = (await session.exec(select(Notification))).all()
    texts = [n.payload["text"] for n in told if "hết hạn" in n.payload["text"]]
    assert len(texts) == 2 and all("không được trả lời trước giờ gặp" in text for text in texts)
    await send_reminders(services)  # once
    async with db.session() as session:
        assert len((await session.exec(select(Notification))).all()) == len(told)
