"""One-to-one meetings at trade-connection events: the office opens a grid (days, hours, breaks, slot length,
tables), a registered buyer or an event producer requests a meeting in a free slot, the other side accepts,
declines or proposes another slot, and the office can book for both.

The rules hold under concurrency on both databases, by the schema and not only by checks:

* A meeting that holds its slot (requested, accepted, held, no-show) has ``active_slot`` set to its slot; freed ones
  (declined, cancelled, moved) have NULL. Three unique constraints on (active_slot, buyer), (active_slot, producer)
  and (active_slot, table) mean no buyer, no producer and no table is in two meetings at once (NULLs never clash).
* Booking locks the buyer's registration row and then the producer row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
  has one writer at a time), always in that order, so the per-person quota counts what is really booked and two
  bookings of one person are serialised. The insert runs in a savepoint: a table taken meanwhile is retried with the
  next free table, a person taken meanwhile is answered with ``SlotTaken``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint, func, or_, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.admin import require_admin
from models.audit import record
from models.catalog import Producer, Product
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.errors import DomainError, NotAuthorised, QuotaExceeded, Stale, StaleAction
from models.events import Event, EventRole, EventStatus, Registration, get_event
from models.memos import Memo, MemoKind, MemoStatus, fill_buyer, fill_producer, number_memo
from models.people import BuyerProfile, User

MAX_SLOTS = 2000  # slots of one grid (days × slots a day)
MAX_TABLES = 500
SLOT_LENGTHS = (10, 15, 20, 30, 45, 60)
_WINDOW = re.compile(r"(\d{1,2})[:hg.](\d{2})?\s*[-–—]\s*(\d{1,2})[:hg.](\d{2})?")


@dataclass(frozen=True)
class MeetingPolicy:
    """How many meetings one person (a buyer, or a producer) may have per event, and when they are reminded."""

    quota: int = 8
    remind_before: timedelta = timedelta(minutes=15)


class MeetingStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the other side
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"  # by a side, by the office, or by a change of the grid
    MOVED = "moved"  # the other side proposed another slot: a new meeting replaces this one
    HELD = "held"  # the office marked it held
    NO_SHOW = "no_show"  # the office marked that a side did not come
    LAPSED = "lapsed"  # a request nobody answered before its slot began: the slot is free again


HOLDING = frozenset({MeetingStatus.REQUESTED, MeetingStatus.ACCEPTED, MeetingStatus.HELD, MeetingStatus.NO_SHOW})
OPEN = frozenset({MeetingStatus.REQUESTED, MeetingStatus.ACCEPTED})  # may still be answered, moved or cancelled


class Side(StrEnum):
    BUYER = "buyer"
    PRODUCER = "producer"
    OFFICE = "office"


class InvalidGrid(DomainError):
    """A grid value that cannot be accepted; ``reason`` names why (a message key suffix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlotTaken(DomainError):
    """The slot is no longer free: ``who`` says for whom (``you``, ``them``, ``tables``: every table is taken)."""

    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


class NotAtEvent(DomainError):
    """A side is not at the event: ``who`` is ``you`` or ``them``."""

    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


class MeetingGrid(SQLModel, table=True):
    """How an event's meetings are laid out; its slots and tables are rows of their own."""

    __tablename__ = "meeting_grid"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", unique=True)
    days: str = Field(max_length=400)  # ISO dates, comma separated
    hours: str = Field(max_length=200)  # "08:00-12:00,13:30-17:00"
    breaks: str = Field(default="", max_length=200)
    slot_minutes: int = 20
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class MeetingTable(SQLModel, table=True):
    """A table (``name`` blank: shown as its number) or a producer's booth (``producer_id`` set)."""

    __tablename__ = "meeting_table"
    __table_args__ = (UniqueConstraint("event_id", "number", name="uq_meeting_table_number"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    number: int
    name: str = Field(default="", max_length=300)
    producer_id: int | None = Field(default=None, foreign_key="producer.id", index=True)
    open: bool = True  # a table the office removed keeps its row (meetings point at it) but takes no more


class MeetingSlot(SQLModel, table=True):
    __tablename__ = "meeting_slot"
    __table_args__ = (UniqueConstraint("event_id", "starts_at", name="uq_meeting_slot_start"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    open: bool = True  # a slot the office removed keeps its row but takes no more meetings


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    __table_args__ = (
        UniqueConstraint("active_slot", "buyer_user_id", name="uq_meeting_slot_buyer"),
        UniqueConstraint("active_slot", "producer_id", name="uq_meeting_slot_producer"),
        UniqueConstraint("active_slot", "table_id", name="uq_meeting_slot_table"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    slot_id: int = Field(foreign_key="meeting_slot.id", index=True)
    table_id: int = Field(foreign_key="meeting_table.id")
    active_slot: int | None = Field(default=None)  # = slot_id while the meeting holds it (HOLDING), else NULL
    buyer_user_id: int = Field(foreign_key="app_user.id", index=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    requested_by: int | None = Field(default=None, foreign_key="app_user.id")
    requested_as: str = Field(max_length=20)  # Side value: who asked (the other side answers)
    status: str = Field(default=MeetingStatus.REQUESTED.value, max_length=20, index=True)
    replaces_id: int | None = Field(default=None, foreign_key="meeting.id")  # the request this one moved
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def holding(self) -> bool:
        return self.status in HOLDING

    def set_status(self, status: MeetingStatus, now: datetime) -> None:
        self.status = status.value
        self.active_slot = self.slot_id if status in HOLDING else None
        self.updated_at = now

    @property
    def awaiting(self) -> Side | None:
        """The side whose answer a request waits for."""
        if self.status != MeetingStatus.REQUESTED.value:
            return None
        return Side.PRODUCER if self.requested_as == Side.BUYER.value else Side.BUYER


# -- the grid -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridValues:
    days: tuple[date, ...]
    hours: tuple[tuple[time, time], ...]
    breaks: tuple[tuple[time, time], ...]
    slot_minutes: int
    tables: int  # numbered tables; 0 with ``booths``
    booths: bool = False  # one booth per producer at the event instead


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """"8:00-12:00, 13h30-17h" → ((08:00, 12:00), (13:30, 17:00)); InvalidGrid("hours") for anything else."""
    found = []
    rest = text
    for match in _WINDOW.finditer(text):
        h1, m1, h2, m2 = match.groups()
        try:
            start, end = time(int(h1), int(m1 or 0)), time(int(h2), int(m2 or 0))
        except ValueError:
            raise InvalidGrid("hours") from None
        if end <= start:
            raise InvalidGrid("hours_order")
        found.append((start, end))
        rest = rest.replace(match.group(0), "", 1)
    if not found or re.sub(r"[\s,;]", "", rest):
        raise InvalidGrid("hours")
    return tuple(sorted(found))


def windows_text(windows: Sequence[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in windows)


def slot_times(values: GridValues) -> list[tuple[datetime, datetime]]:
    """Every slot of the grid, as UTC datetimes: slot after slot in each window, none overlapping a break."""
    length = timedelta(minutes=values.slot_minutes)
    slots = []
    for day in values.days:
        for start, end in values.hours:
            at = datetime.combine(day, start, TIMEZONE)
            stop = datetime.combine(day, end, TIMEZONE)
            while at + length <= stop:
                clash = any(at < datetime.combine(day, b_end, TIMEZONE) and datetime.combine(day, b_start, TIMEZONE)
                            < at + length for b_start, b_end in values.breaks)
                if not clash:
                    slots.append((at.astimezone(UTC), (at + length).astimezone(UTC)))
                at += length
    unique = sorted(set(slots))
    if len(unique) > MAX_SLOTS:
        raise InvalidGrid("too_many_slots")
    return unique


def check_grid(values: GridValues, event: Event) -> None:
    if not values.days or any(day < event.starts_on or day > event.ends_on for day in values.days):
        raise InvalidGrid("days")
    if values.slot_minutes not in SLOT_LENGTHS:
        raise InvalidGrid("slot_minutes")
    if not values.booths and not 1 <= values.tables <= MAX_TABLES:
        raise InvalidGrid("tables")
    if not slot_times(values):
        raise InvalidGrid("no_slots")


async def grid_of(session: AsyncSession, event_id: int) -> MeetingGrid | None:
    return (await session.exec(select(MeetingGrid).where(MeetingGrid.event_id == event_id))).first()


async def has_grid(session: AsyncSession, event_id: int) -> bool:
    return await grid_of(session, event_id) is not None


async def grid_values(session: AsyncSession, grid: MeetingGrid) -> GridValues:
    tables = await tables_of(session, grid.event_id)
    booths = bool(tables) and all(table.producer_id is not None for table in tables)
    return GridValues(
        days=tuple(date.fromisoformat(day) for day in grid.days.split(",") if day),
        hours=parse_windows(grid.hours),
        breaks=parse_windows(grid.breaks) if grid.breaks else (),
        slot_minutes=grid.slot_minutes,
        tables=0 if booths else len(tables),
        booths=booths,
    )


async def tables_of(session: AsyncSession, event_id: int) -> list[MeetingTable]:
    query = select(MeetingTable).where(MeetingTable.event_id == event_id, col(MeetingTable.open).is_(True))
    return list((await session.exec(query.order_by(col(MeetingTable.number)))).all())


async def slots_of(session: AsyncSession, event_id: int) -> list[MeetingSlot]:
    query = select(MeetingSlot).where(MeetingSlot.event_id == event_id, col(MeetingSlot.open).is_(True))
    return list((await session.exec(query.order_by(col(MeetingSlot.starts_at)))).all())


async def booth_numbers(session: AsyncSession, event_id: int) -> dict[int, str]:
    """The booths of an event whose grid gives each producer one: producer id -> the booth's number as printed."""
    rows = await session.exec(
        select(MeetingTable.producer_id, MeetingTable.number).where(
            MeetingTable.event_id == event_id, col(MeetingTable.open).is_(True),
            col(MeetingTable.producer_id).is_not(None))
    )
    return {int(producer): str(number) for producer, number in rows.all()}


async def producers_at(session: AsyncSession, event_id: int) -> list[Producer]:
    """Producers at the event: those a user registered for as producer, and those with a booth."""
    registered = (
        select(User.producer_id)
        .join(Registration, col(Registration.user_id) == User.id)
        .where(Registration.event_id == event_id, Registration.role == EventRole.PRODUCER.value,
               col(User.producer_id).is_not(None))
    )
    booths = select(MeetingTable.producer_id).where(MeetingTable.event_id == event_id,
                                                    col(MeetingTable.producer_id).is_not(None))
    query = select(Producer).where(or_(col(Producer.id).in_(registered), col(Producer.id).in_(booths)))
    return list((await session.exec(query.order_by(col(Producer.name), col(Producer.id)))).all())


async def save_grid(
    session: AsyncSession, admin: User, event_id: int, values: GridValues, now: datetime
) -> tuple[MeetingGrid, list[Meeting]]:
    """Open or change an event's grid. Slots and tables that stay keep their meetings; the meetings of a slot or
    table that goes are cancelled and returned (their sides are told). Audited."""
    require_admin(admin)
    event = await get_event(session, event_id)
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    check_grid(values, event)
    await hold_grid(session, event_id, exclusive=True)  # bookings under way finish first; later ones see the change
    grid = await grid_of(session, event_id)
    if grid is None:
        grid = MeetingGrid(event_id=event_id, days="", hours="", created_by=admin.id, created_at=now)
        session.add(grid)
    grid.days = ",".join(day.isoformat() for day in values.days)
    grid.hours, grid.breaks = windows_text(values.hours), windows_text(values.breaks)
    grid.slot_minutes, grid.updated_at = values.slot_minutes, now

    wanted = {(a, b) for a, b in slot_times(values)}
    all_slots = (await session.exec(select(MeetingSlot).where(MeetingSlot.event_id == event_id))).all()
    for slot in all_slots:
        slot.open = (slot.starts_at, slot.ends_at) in wanted
        wanted.discard((slot.starts_at, slot.ends_at))
    for starts_at, ends_at in sorted(wanted):
        session.add(MeetingSlot(event_id=event_id, starts_at=starts_at, ends_at=ends_at))

    tables = list((await session.exec(select(MeetingTable).where(MeetingTable.event_id == event_id)
                                       .order_by(col(MeetingTable.number)))).all())
    if values.booths:
        producers = await producers_at(session, event_id)
        by_producer = {table.producer_id: table for table in tables if table.producer_id is not None}
        keep = {producer.id for producer in producers}
        for table in tables:
            table.open = table.producer_id in keep
        number = max((table.number for table in tables), default=0)
        for producer in producers:
            if producer.id not in by_producer:
                number += 1
                session.add(MeetingTable(event_id=event_id, number=number, name=producer.name,
                                         producer_id=producer.id))
            else:
                by_producer[producer.id].name = producer.name
        if not producers:
            raise InvalidGrid("no_producers")
    else:
        numbered = {table.number: table for table in tables if table.producer_id is None}
        for table in tables:
            table.open = table.producer_id is None and table.number <= values.tables
        for number in range(1, values.tables + 1):
            if number not in numbered:
                if any(table.number == number for table in tables):
                    raise InvalidGrid("tables")
                session.add(MeetingTable(event_id=event_id, number=number))
    await session.flush()

    dropped = list((await session.exec(
        select(Meeting)
        .join(MeetingSlot, col(MeetingSlot.id) == Meeting.slot_id)
        .join(MeetingTable, col(MeetingTable.id) == Meeting.table_id)
        .where(Meeting.event_id == event_id, col(Meeting.status).in_([s.value for s in OPEN]),
               or_(col(MeetingSlot.open).is_(False), col(MeetingTable.open).is_(False)))
        .order_by(col(Meeting.id))
    )).all())
    for meeting in dropped:
        meeting.set_status(MeetingStatus.CANCELLED, now)
    record(session, admin.id, "meeting.grid", f"event:{event_id}", now,
           f"{grid.days} {grid.hours} /{grid.slot_minutes} −{len(dropped)}")
    await session.flush()
    return grid, dropped


GRID_LOCK = 0x4D45  # the advisory lock space of meeting grids ("ME"), the event id is the second key


async def hold_grid(session: AsyncSession, event_id: int, *, exclusive: bool) -> None:
    """PostgreSQL: the event's grid lock until the transaction ends — shared by bookings, exclusive for a grid
    change — so a change waits for the bookings under way (and cancels those in slots or tables it closes) and the
    bookings after it see it. An advisory lock: nothing is written to any row (row share locks taken by every
    booking on the same slot rows cost several times the booking itself). SQLite has one writer at a time."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.exec(text(f"SELECT {function}(:space, :event)").bindparams(  # type: ignore[call-overload]
        space=GRID_LOCK, event=event_id))


async def has_bookings(session: AsyncSession, event_id: int) -> bool:
    query = select(func.count()).select_from(Meeting).where(Meeting.event_id == event_id)
    return (await session.exec(query)).one() > 0


# -- who is who ---------------------------------------------------------------------------------------------------


async def buyer_registration(session: AsyncSession, event_id: int, user_id: int, *, lock: bool = False
                             ) -> Registration | None:
    query = select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id,
                                       Registration.role == EventRole.BUYER.value)
    if lock:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: rows referring to it are not held off
    return (await session.exec(query)).first()


async def producer_is_at(session: AsyncSession, event_id: int, producer_id: int) -> bool:
    """Whether a user of the producer registered for the event as producer, or the producer has a booth there."""
    registered = (
        select(Registration.id)
        .join(User, col(User.id) == Registration.user_id)
        .where(Registration.event_id == event_id, Registration.role == EventRole.PRODUCER.value,
               User.producer_id == producer_id)
        .limit(1)
    )
    if (await session.exec(registered)).first() is not None:
        return True
    return await _booth(session, event_id, producer_id) is not None


async def _booth(session: AsyncSession, event_id: int, producer_id: int, *, open_only: bool = True
                 ) -> MeetingTable | None:
    query = select(MeetingTable).where(MeetingTable.event_id == event_id, MeetingTable.producer_id == producer_id)
    if open_only:
        query = query.where(col(MeetingTable.open).is_(True))
    return (await session.exec(query.limit(1))).first()


def side_of(user: User, meeting: Meeting) -> Side | None:
    if user.id is not None and user.id == meeting.buyer_user_id:
        return Side.BUYER
    if user.producer_id is not None and user.producer_id == meeting.producer_id:
        return Side.PRODUCER
    return None


async def get_meeting(session: AsyncSession, user: User, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise StaleAction("no such meeting", Stale.GONE)
    if side_of(user, meeting) is None and not user.is_admin:
        raise NotAuthorised("not a side of this meeting")
    return meeting


# -- booking ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """Who meets whom: a buyer (user) and a producer, at an event."""

    event_id: int
    buyer_user_id: int
    producer_id: int


async def busy_slots(session: AsyncSession, event_id: int, *, buyer_user_id: int | None = None,
                     producer_id: int | None = None) -> set[int]:
    """Slots where the buyer or the producer already holds a meeting."""
    who = []
    if buyer_user_id is not None:
        who.append(Meeting.buyer_user_id == buyer_user_id)
    if producer_id is not None:
        who.append(Meeting.producer_id == producer_id)
    query = select(Meeting.slot_id).where(Meeting.event_id == event_id, col(Meeting.active_slot).is_not(None),
                                          or_(*who))
    return set((await session.exec(query)).all())


async def free_tables(session: AsyncSession, event_id: int, slot_id: int, producer_id: int, limit: int = 5
                      ) -> list[MeetingTable]:
    """Tables where the two could meet in the slot: the producer's booth when it has one, else the first free
    numbered tables."""
    taken = select(Meeting.table_id).where(Meeting.active_slot == slot_id)
    booth = await _booth(session, event_id, producer_id)
    query = select(MeetingTable).where(MeetingTable.event_id == event_id, col(MeetingTable.open).is_(True),
                                       col(MeetingTable.id).not_in(taken))
    if booth is not None:
        query = query.where(MeetingTable.id == booth.id)
    else:
        query = query.where(col(MeetingTable.producer_id).is_(None)).order_by(col(MeetingTable.number)).limit(limit)
    return list((await session.exec(query.execution_options(populate_existing=True))).all())


async def free_slots(session: AsyncSession, booking: Booking, now: datetime, limit: int = 12) -> list[MeetingSlot]:
    """Slots still to come where both sides are free and a table is, soonest first."""
    busy = await busy_slots(session, booking.event_id, buyer_user_id=booking.buyer_user_id,
                            producer_id=booking.producer_id)
    booth = await _booth(session, booking.event_id, booking.producer_id)
    usable = (select(MeetingTable.id).where(MeetingTable.id == booth.id) if booth is not None else
              select(MeetingTable.id).where(MeetingTable.event_id == booking.event_id,
                                            col(MeetingTable.open).is_(True), col(MeetingTable.producer_id).is_(None)))
    size = (await session.exec(select(func.count()).select_from(usable.subquery()))).one()
    if not size:
        return []
    full = (
        select(Meeting.active_slot)
        .where(Meeting.event_id == booking.event_id, col(Meeting.active_slot).is_not(None),
               col(Meeting.table_id).in_(usable))
        .group_by(col(Meeting.active_slot))
        .having(func.count() >= size)
    )
    blocked = busy | set((await session.exec(full)).all())
    found = []
    for slot in await slots_of(session, booking.event_id):
        if slot.starts_at > now and slot.id not in blocked:
            found.append(slot)
            if len(found) >= limit:
                break
    return found


async def count_for(session: AsyncSession, booking: Booking) -> tuple[int, int]:
    """How many meetings holding a slot the buyer and the producer have at the event (one query)."""
    buyer, producer = Meeting.buyer_user_id == booking.buyer_user_id, Meeting.producer_id == booking.producer_id
    query = select(func.count().filter(buyer), func.count().filter(producer)).where(
        Meeting.event_id == booking.event_id, col(Meeting.active_slot).is_not(None), or_(buyer, producer))
    buyers, producers = (await session.exec(query)).one()
    return int(buyers or 0), int(producers or 0)


async def _busy_side(session: AsyncSession, booking: Booking, slot_id: int) -> str | None:
    """"buyer" or "producer" when that side already holds the slot (one query), else None."""
    query = select(Meeting.buyer_user_id, Meeting.producer_id).where(
        Meeting.active_slot == slot_id,
        or_(Meeting.buyer_user_id == booking.buyer_user_id, Meeting.producer_id == booking.producer_id))
    holders = (await session.exec(query)).all()
    if any(buyer == booking.buyer_user_id for buyer, _producer in holders):
        return Side.BUYER.value
    return Side.PRODUCER.value if holders else None


async def _lock_sides(session: AsyncSession, booking: Booking) -> None:
    """The buyer's registration, then the producer's row, locked (PostgreSQL) in this order; NotAtEvent if a
    side is not at the event."""
    if await buyer_registration(session, booking.event_id, booking.buyer_user_id, lock=True) is None:
        raise NotAtEvent("buyer")
    producer = (await session.exec(select(Producer).where(Producer.id == booking.producer_id)
                                   .with_for_update(key_share=True))).first()
    if producer is None or not await producer_is_at(session, booking.event_id, booking.producer_id):
        raise NotAtEvent("producer")


async def book(
    session: AsyncSession, by: User, side: Side, booking: Booking, slot_id: int, policy: MeetingPolicy,
    now: datetime, *, replaces: Meeting | None = None,
) -> Meeting:
    """A meeting in ``slot_id``: requested by ``side`` (the other answers), or accepted at once when the office
    books it. Raises SlotTaken, QuotaExceeded, NotAtEvent or StaleAction; changes nothing then."""
    event = await get_event(session, booking.event_id)
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    await hold_grid(session, booking.event_id, exclusive=False)  # a grid change waits for this booking
    slot = (await session.exec(select(MeetingSlot).where(MeetingSlot.id == slot_id)
                               .execution_options(populate_existing=True))).first()
    if slot is None or slot.event_id != booking.event_id or not slot.open:
        raise StaleAction("no such slot", Stale.GONE)
    if slot.starts_at <= now:
        raise StaleAction("slot passed", Stale.EXPIRED)
    await _lock_sides(session, booking)
    buyer_count, producer_count = await count_for(session, booking)
    if replaces is not None:  # the moved request gives its place back
        buyer_count, producer_count = buyer_count - 1, producer_count - 1
    if buyer_count >= policy.quota or producer_count >= policy.quota:
        raise QuotaExceeded(policy.quota)
    busy = await _busy_side(session, booking, slot_id)
    if busy is not None:
        raise SlotTaken(busy)
    status = MeetingStatus.ACCEPTED if side is Side.OFFICE else MeetingStatus.REQUESTED
    for table in await free_tables(session, booking.event_id, slot_id, booking.producer_id):
        meeting = Meeting(
            event_id=booking.event_id, slot_id=slot_id, table_id=table.id or 0, active_slot=slot_id,
            buyer_user_id=booking.buyer_user_id, producer_id=booking.producer_id, requested_by=by.id,
            requested_as=side.value, status=status.value, replaces_id=replaces.id if replaces else None,
            created_at=now, updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(meeting)
                await session.flush()
        except IntegrityError:
            await _why_taken(session, booking, slot_id)  # a side taken meanwhile: raises; a table: try the next
            continue
        if side is Side.OFFICE:
            record(session, by.id, "meeting.book", f"meeting:{meeting.id}", now,
                   f"user:{booking.buyer_user_id} producer:{booking.producer_id}")
        return meeting
    raise SlotTaken("tables")


async def _why_taken(session: AsyncSession, booking: Booking, slot_id: int) -> None:
    busy = await _busy_side(session, booking, slot_id)
    if busy is not None:
        raise SlotTaken(busy)


async def answer(session: AsyncSession, user: User, meeting_id: int, *, accept: bool, now: datetime) -> Meeting:
    """The awaited side accepts or declines a request."""
    meeting = await get_meeting(session, user, meeting_id)
    if meeting.status != MeetingStatus.REQUESTED.value:
        raise StaleAction(f"meeting is {meeting.status}", Stale.ANSWERED)
    if side_of(user, meeting) != meeting.awaiting:
        raise NotAuthorised("the other side answers")
    slot = await session.get(MeetingSlot, meeting.slot_id)
    if accept and (slot is None or slot.starts_at <= now):
        raise StaleAction("the slot has begun", Stale.EXPIRED)
    meeting.set_status(MeetingStatus.ACCEPTED if accept else MeetingStatus.DECLINED, now)
    return meeting


async def propose(
    session: AsyncSession, user: User, meeting_id: int, slot_id: int, policy: MeetingPolicy, now: datetime
) -> tuple[Meeting, Meeting]:
    """The awaited side proposes another slot: the request is moved, and a new one, from this side, waits for the
    other. Returns (old, new)."""
    old = await get_meeting(session, user, meeting_id)
    side = side_of(user, old)
    if old.status != MeetingStatus.REQUESTED.value:
        raise StaleAction(f"meeting is {old.status}", Stale.ANSWERED)
    if side is None or side != old.awaiting:
        raise NotAuthorised("the other side answers")
    if slot_id == old.slot_id:
        raise SlotTaken("same")
    booking = Booking(old.event_id, old.buyer_user_id, old.producer_id)
    new = await book(session, user, side, booking, slot_id, policy, now, replaces=old)  # raises before any change
    old.set_status(MeetingStatus.MOVED, now)
    return old, new


async def cancel(session: AsyncSession, user: User, meeting_id: int, now: datetime) -> Meeting:
    """A side (or the office) cancels an open meeting; its slot is free again."""
    meeting = await get_meeting(session, user, meeting_id)
    if meeting.status not in OPEN:
        raise StaleAction(f"meeting is {meeting.status}", Stale.ANSWERED)
    meeting.set_status(MeetingStatus.CANCELLED, now)
    if side_of(user, meeting) is None:
        record(session, user.id, "meeting.cancel", f"meeting:{meeting.id}", now)
    return meeting


async def mark(session: AsyncSession, admin: User, meeting_id: int, held: bool, now: datetime) -> Meeting:
    """The office marks an accepted meeting held or a no-show, once its slot has begun (and may correct it)."""
    require_admin(admin)
    meeting = await get_meeting(session, admin, meeting_id)
    slot = await session.get(MeetingSlot, meeting.slot_id)
    assert slot is not None
    allowed = {MeetingStatus.ACCEPTED.value, MeetingStatus.HELD.value, MeetingStatus.NO_SHOW.value}
    if meeting.status not in allowed:
        raise StaleAction(f"meeting is {meeting.status}", Stale.ANSWERED)
    if slot.starts_at > now:
        raise StaleAction("not begun", Stale.OUTDATED)
    meeting.set_status(MeetingStatus.HELD if held else MeetingStatus.NO_SHOW, now)
    record(session, admin.id, "meeting.held" if held else "meeting.no_show", f"meeting:{meeting.id}", now)
    return meeting


async def release(session: AsyncSession, event_id: int, now: datetime, *, buyer_user_id: int | None = None,
                  producer_id: int | None = None) -> list[Meeting]:
    """Cancel the open meetings of a buyer or a producer who left the event (all of the event's when neither is
    given: the event was cancelled); returns them, for their other sides to be told."""
    query = select(Meeting).where(Meeting.event_id == event_id, col(Meeting.status).in_([s.value for s in OPEN]))
    if buyer_user_id is not None:
        query = query.where(Meeting.buyer_user_id == buyer_user_id)
    if producer_id is not None:
        query = query.where(Meeting.producer_id == producer_id)
    meetings = list((await session.exec(query.order_by(col(Meeting.id)))).all())
    for meeting in meetings:
        meeting.set_status(MeetingStatus.CANCELLED, now)
    return meetings


# -- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingView:
    meeting: Meeting
    slot: MeetingSlot
    table: MeetingTable
    event: Event
    buyer: User
    profile: BuyerProfile | None
    producer: Producer
    products: tuple[str, ...]  # the producer's products' names (at most 5)

    @property
    def buyer_company(self) -> str:
        return (self.profile.company if self.profile else "") or self.buyer.display_name


async def views(session: AsyncSession, meetings: Sequence[Meeting]) -> list[MeetingView]:
    found = []
    for meeting in meetings:
        slot = await session.get(MeetingSlot, meeting.slot_id)
        table = await session.get(MeetingTable, meeting.table_id)
        event = await session.get(Event, meeting.event_id)
        buyer = await session.get(User, meeting.buyer_user_id)
        producer = await session.get(Producer, meeting.producer_id)
        assert slot and table and event and buyer and producer
        names = (await session.exec(select(Product.name).where(Product.producer_id == producer.id,
                                                              col(Product.hidden).is_(False))
                                    .order_by(col(Product.id)).limit(5))).all()
        found.append(MeetingView(meeting, slot, table, event, buyer, await session.get(BuyerProfile, buyer.id),
                                 producer, tuple(names)))
    return found


async def view_of(session: AsyncSession, meeting: Meeting) -> MeetingView:
    return (await views(session, [meeting]))[0]


async def agenda(session: AsyncSession, user: User, *, event_id: int | None = None) -> list[MeetingView]:
    """A person's meetings that hold a slot (requested, accepted, held, no-show), in time order."""
    mine = [Meeting.buyer_user_id == user.id]
    if user.producer_id is not None:
        mine.append(Meeting.producer_id == user.producer_id)
    query = (select(Meeting).join(MeetingSlot, col(MeetingSlot.id) == Meeting.slot_id)
             .where(col(Meeting.active_slot).is_not(None), or_(*mine)))
    if event_id is not None:
        query = query.where(Meeting.event_id == event_id)
    meetings = (await session.exec(query.order_by(col(MeetingSlot.starts_at), col(Meeting.id)))).all()
    return await views(session, list(meetings))


async def grid_rows(session: AsyncSession, event_id: int) -> tuple[list[MeetingSlot], list[MeetingTable],
                                                                    dict[tuple[int, int], MeetingView]]:
    """The whole grid: slots, tables, and the meeting holding each (slot, table)."""
    slots, tables = await slots_of(session, event_id), await tables_of(session, event_id)
    held = (await session.exec(select(Meeting).where(Meeting.event_id == event_id,
                                                     col(Meeting.active_slot).is_not(None)))).all()
    cells = {(view.slot.id or 0, view.table.id or 0): view for view in await views(session, list(held))}
    return slots, tables, cells


async def due_reminders(session: AsyncSession, now: datetime, before: timedelta) -> list[MeetingView]:
    """Accepted meetings starting within ``before``, marked reminded in the same transaction (once each)."""
    query = (
        select(Meeting)
        .join(MeetingSlot, col(MeetingSlot.id) == Meeting.slot_id)
        .join(Event, col(Event.id) == Meeting.event_id)
        .where(Meeting.status == MeetingStatus.ACCEPTED.value, col(Meeting.reminded_at).is_(None),
               Event.status == EventStatus.SCHEDULED.value,
               col(MeetingSlot.starts_at) <= now + before, col(MeetingSlot.starts_at) > now)
        .order_by(col(MeetingSlot.starts_at), col(Meeting.id))
        .limit(500)
    )
    meetings = list((await session.exec(query)).all())
    for meeting in meetings:
        meeting.reminded_at = now
    return await views(session, meetings)


async def lapse_unanswered(session: AsyncSession, now: datetime) -> list[MeetingView]:
    """Requests still unanswered when their slot begins: lapsed (their slot, table and quota freed), returned so
    that both sides are told, in the same transaction."""
    query = (
        select(Meeting)
        .join(MeetingSlot, col(MeetingSlot.id) == Meeting.slot_id)
        .where(Meeting.status == MeetingStatus.REQUESTED.value, col(MeetingSlot.starts_at) <= now)
        .order_by(col(MeetingSlot.starts_at), col(Meeting.id))
        .limit(500)
    )
    meetings = list((await session.exec(query)).all())
    for meeting in meetings:
        meeting.set_status(MeetingStatus.LAPSED, now)
    return await views(session, meetings)


def local(moment: datetime) -> datetime:
    return moment.astimezone(TIMEZONE)


# -- from meeting to memo -----------------------------------------------------------------------------------------


async def memo_from_meeting(session: AsyncSession, user: User, meeting_id: int, product_id: int, now: datetime
                            ) -> Memo:
    """A side starts a buyer ↔ producer memo from a meeting that has begun (accepted or held): a draft for one of
    the producer's products, tied to the event and the meeting; both sides then confirm it as any draft."""
    meeting = await get_meeting(session, user, meeting_id)
    if side_of(user, meeting) is None:
        raise NotAuthorised("the two sides start memos")
    slot = await session.get(MeetingSlot, meeting.slot_id)
    assert slot is not None
    if meeting.status not in (MeetingStatus.ACCEPTED.value, MeetingStatus.HELD.value) or slot.starts_at > now:
        raise StaleAction(f"meeting is {meeting.status}", Stale.OUTDATED)
    product = await session.get(Product, product_id)
    if product is None or product.producer_id != meeting.producer_id or product.hidden:
        raise StaleAction("not this producer's product", Stale.GONE)
    same = select(Memo.id).where(Memo.meeting_id == meeting.id, Memo.product_id == product.id)
    if (await session.exec(same)).first() is not None:
        raise StaleAction("a memo about this product was started from this meeting", Stale.ANSWERED)
    producer = await session.get(Producer, meeting.producer_id)
    buyer = await session.get(User, meeting.buyer_user_id)
    assert producer is not None and buyer is not None
    profile = await session.get(BuyerProfile, buyer.id)
    memo = Memo(
        kind=MemoKind.PRODUCER.value, buyer_user_id=buyer.id, producer_id=producer.id, product_id=product.id,
        event_id=meeting.event_id, meeting_id=meeting.id, status=MemoStatus.DRAFT.value,
        buyer_name=buyer.display_name, buyer_phone=buyer.phone, producer_phone=producer.phone,
        drafted_at=now, created_at=now, updated_at=now,
    )
    if profile is not None:
        fill_buyer(memo, profile)
    fill_producer(memo, producer)
    return await number_memo(session, memo, now)


# -- statistics -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingCounts:
    booked: int  # accepted, not marked yet
    held: int
    no_show: int
    memos: int  # memos started from a meeting

    @property
    def memos_per_meeting(self) -> float:
        return self.memos / self.held if self.held else 0.0


async def meeting_counts(session: AsyncSession, event_id: int | None = None) -> MeetingCounts:
    """Meetings booked, held and missed, and memos started from meetings (all events, or one)."""
    query = select(Meeting.status, func.count()).group_by(col(Meeting.status))
    memos = select(func.count()).select_from(Memo).where(col(Memo.meeting_id).is_not(None))
    if event_id is not None:
        query = query.where(Meeting.event_id == event_id)
        memos = memos.where(Memo.event_id == event_id)
    by_status = {status: int(n) for status, n in (await session.exec(query)).all()}
    return MeetingCounts(
        booked=by_status.get(MeetingStatus.ACCEPTED.value, 0),
        held=by_status.get(MeetingStatus.HELD.value, 0),
        no_show=by_status.get(MeetingStatus.NO_SHOW.value, 0),
        memos=int((await session.exec(memos)).one()),
    )
