"""Trade-connection events: the office schedules them, buyers and producers register interest, and registrants are
reminded the day before. The reminder schedule is data (event dates and each registration's ``reminded_at``), so
it survives restarts and is shared by replicas: whichever process's pump finds a reminder due sends it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography, parse
from models.admin import require_admin
from models.audit import record
from models.catalog import Producer
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.errors import EventClosed, InvalidEvent, Stale, StaleAction
from models.geography import PlaceKind
from models.memos import Memo
from models.people import BuyerProfile, User
from models.text import clean, normalize

MAX_NAME = 300
MAX_VENUE = 300
MAX_DESCRIPTION = 2000
REMINDER_HOUR = 9  # local time, on the day before the event
NATIONWIDE = frozenset({"ca nuoc", "toan quoc", "nationwide", "all", "vietnam", "viet nam"})
FIELDS = ("name", "theme", "venue", "dates", "deadline", "description")  # what an admin can edit


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class EventRole(StrEnum):
    BUYER = "buyer"
    PRODUCER = "producer"


class Event(SQLModel, table=True):
    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_NAME)
    theme: str = Field(default="", max_length=120)  # a region or grouping (models.geography); "" = nationwide
    venue: str = Field(default="", max_length=MAX_VENUE)
    starts_on: date = Field(index=True)  # local dates (Asia/Ho_Chi_Minh)
    ends_on: date
    register_by: date
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    status: str = Field(default=EventStatus.SCHEDULED.value, max_length=20, index=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def scheduled(self) -> bool:
        return self.status == EventStatus.SCHEDULED.value

    def is_open(self, today: date) -> bool:
        """Registration is possible: scheduled, before the deadline and not over."""
        return self.scheduled and today <= self.register_by and today <= self.ends_on

    def is_running(self, today: date) -> bool:
        return self.scheduled and self.starts_on <= today <= self.ends_on

    @property
    def remind_at(self) -> datetime:
        """When registrants are reminded: REMINDER_HOUR local time on the day before it starts."""
        day = self.starts_on - timedelta(days=1)
        return datetime.combine(day, time(REMINDER_HOUR), TIMEZONE)


class Registration(SQLModel, table=True):
    """A user's interest in an event, as a buyer or as a producer; ``reminded_at`` makes the reminder durable."""

    __tablename__ = "event_registration"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_registration_event_user"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    role: str = Field(max_length=20)  # EventRole value
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


@dataclass(frozen=True)
class EventValues:
    """An event's fields before it is saved, checked together."""

    name: str
    theme: str
    venue: str
    starts_on: date
    ends_on: date
    register_by: date
    description: str = ""

    def check(self, today: date, *, new_dates: bool = True) -> None:
        if not self.name or len(self.name) > MAX_NAME:
            raise InvalidEvent("name")
        if not self.venue or len(self.venue) > MAX_VENUE:
            raise InvalidEvent("venue")
        if len(self.description) > MAX_DESCRIPTION:
            raise InvalidEvent("description")
        if self.ends_on < self.starts_on:
            raise InvalidEvent("dates_order")
        if new_dates and self.starts_on < today:
            raise InvalidEvent("in_past")
        if self.register_by > self.ends_on:
            raise InvalidEvent("deadline_after_end")


def local_day(now: datetime) -> date:
    return now.astimezone(TIMEZONE).date()


def default_deadline(starts_on: date, today: date) -> date:
    """The day before the event, or today when that has passed."""
    return max(starts_on - timedelta(days=1), today)


# -- parsing what an admin types --------------------------------------------------------------------------------


def parse_dates(text: str) -> list[date]:
    """Every date written dd/mm/yyyy (or yyyy-mm-dd) in ``text``, in order; InvalidEvent for one that is no real
    day or falls outside the years models.parse takes."""
    found = parse.dates_in(text)
    if found is None:
        raise InvalidEvent("date")
    return found


def parse_theme(text: str) -> str:
    """A region or grouping name as models.geography lists it; "" for nationwide."""
    key = normalize(text)
    if key in NATIONWIDE:
        return ""
    place = geography.resolve(text).place
    if place is None or place.kind not in (PlaceKind.REGION, PlaceKind.GROUPING):
        raise InvalidEvent("theme")
    return place.name


def parse_field(field: str, text: str, today: date) -> dict[str, str]:
    """The draft values (JSON-safe) for what an admin typed for ``field``; InvalidEvent says what is wrong."""
    value = clean(text)
    if field in ("name", "venue"):
        if not value or len(value) > (MAX_NAME if field == "name" else MAX_VENUE):
            raise InvalidEvent(field)
        return {field: value}
    if field == "description":
        if len(value) > MAX_DESCRIPTION:
            raise InvalidEvent("description")
        return {"description": value}
    if field == "theme":
        return {"theme": parse_theme(value)}
    days = parse_dates(value)
    if field == "dates" and len(days) in (1, 2):
        if days[-1] < days[0]:
            raise InvalidEvent("dates_order")
        if days[0] < today:
            raise InvalidEvent("in_past")
        return {"starts_on": days[0].isoformat(), "ends_on": days[-1].isoformat()}
    if field == "deadline" and len(days) == 1:
        return {"register_by": days[0].isoformat()}
    raise InvalidEvent("date")


def values_of(draft: Mapping[str, str], today: date) -> EventValues:
    """Values from a complete draft; the deadline defaults to the day before the event."""
    starts_on = date.fromisoformat(draft["starts_on"])
    deadline = draft.get("register_by")
    return EventValues(
        name=draft["name"],
        theme=draft.get("theme", ""),
        venue=draft["venue"],
        starts_on=starts_on,
        ends_on=date.fromisoformat(draft["ends_on"]),
        register_by=date.fromisoformat(deadline) if deadline else default_deadline(starts_on, today),
        description=draft.get("description", ""),
    )


# -- admins -----------------------------------------------------------------------------------------------------


async def add_event(session: AsyncSession, values: EventValues, created_by: int | None, now: datetime) -> Event:
    event = Event(
        name=values.name,
        theme=values.theme,
        venue=values.venue,
        starts_on=values.starts_on,
        ends_on=values.ends_on,
        register_by=values.register_by,
        description=values.description,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def create_event(session: AsyncSession, admin: User, draft: Mapping[str, str], now: datetime) -> Event:
    require_admin(admin)
    values = values_of(draft, local_day(now))
    values.check(local_day(now))
    event = await add_event(session, values, admin.id, now)
    record(session, admin.id, "event.new", f"event:{event.id}", now, event.name)
    return event


async def update_event(
    session: AsyncSession, admin: User, event_id: int, changes: Mapping[str, str], now: datetime
) -> Event:
    """Apply parsed changes (parse_field); a new start date re-arms the reminders of every registrant."""
    require_admin(admin)
    event = await get_event(session, event_id)
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    today = local_day(now)
    current = EventValues(event.name, event.theme, event.venue, event.starts_on, event.ends_on, event.register_by,
                          event.description)
    draft = {
        "name": current.name, "theme": current.theme, "venue": current.venue, "description": current.description,
        "starts_on": current.starts_on.isoformat(), "ends_on": current.ends_on.isoformat(),
        "register_by": current.register_by.isoformat(), **changes,
    }
    values = values_of(draft, today)
    values.check(today, new_dates="starts_on" in changes)
    if values.starts_on != event.starts_on:
        for registration in await _registrations(session, event_id):
            registration.reminded_at = None
    for name, value in vars(values).items():
        setattr(event, name, value)
    event.updated_at = now
    record(session, admin.id, "event.edit", f"event:{event.id}", now, ", ".join(sorted(changes)))
    await session.flush()
    return event


async def cancel_event(session: AsyncSession, admin: User, event_id: int, now: datetime) -> tuple[Event, list[User]]:
    """Cancel the event; returns it with the users registered for it (to be told)."""
    require_admin(admin)
    event = await get_event(session, event_id)
    if not event.scheduled:
        raise StaleAction("event already cancelled", Stale.ANSWERED)
    event.status = EventStatus.CANCELLED.value
    event.updated_at = now
    record(session, admin.id, "event.cancel", f"event:{event.id}", now, event.name)
    return event, await registrants(session, event_id)


async def attach_memo(
    session: AsyncSession, admin: User, memo_id: int, event_id: int | None, now: datetime
) -> Memo:
    """Tie a memo to an event (or untie it with None), e.g. one signed at the event without a request there."""
    require_admin(admin)
    memo = await session.get(Memo, memo_id)
    if memo is None:
        raise StaleAction("no such memo", Stale.GONE)
    if event_id is not None:
        await get_event(session, event_id)
    memo.event_id = event_id
    memo.updated_at = now
    record(session, admin.id, "memo.event", f"memo:{memo_id}", now, f"event:{event_id}")
    return memo


# -- everyone ---------------------------------------------------------------------------------------------------


async def get_event(session: AsyncSession, event_id: int) -> Event:
    event = await session.get(Event, event_id)
    if event is None:
        raise StaleAction("no such event", Stale.GONE)
    return event


async def upcoming(session: AsyncSession, today: date, limit: int = 20) -> list[Event]:
    """Scheduled events not over yet, soonest first."""
    query = (
        select(Event)
        .where(Event.status == EventStatus.SCHEDULED.value, col(Event.ends_on) >= today)
        .order_by(col(Event.starts_on), col(Event.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def all_events(session: AsyncSession, limit: int = 50) -> list[tuple[Event, int]]:
    """Every event with its number of registrations, latest start first (admins)."""
    count = func.count(col(Registration.id))
    query = (
        select(Event, count)
        .outerjoin(Registration, col(Registration.event_id) == Event.id)
        .group_by(col(Event.id))
        .order_by(col(Event.starts_on).desc(), col(Event.id).desc())
        .limit(limit)
    )
    return [(event, int(n)) for event, n in (await session.exec(query)).all()]


async def registration_of(session: AsyncSession, user_id: int, event_id: int) -> Registration | None:
    query = select(Registration).where(Registration.user_id == user_id, Registration.event_id == event_id)
    return (await session.exec(query)).first()


async def register(session: AsyncSession, user: User, event_id: int, role: EventRole, now: datetime) -> Registration:
    """Register interest (again: the role is updated); EventClosed after the deadline or once it is over."""
    event = await get_event(session, event_id)
    if not event.is_open(local_day(now)):
        raise EventClosed(f"event {event_id} is not open")
    assert user.id is not None
    registration = await registration_of(session, user.id, event_id)
    if registration is None:
        registration = Registration(event_id=event_id, user_id=user.id, role=role.value, created_at=now)
        session.add(registration)
    else:
        registration.role = role.value
    await session.flush()
    return registration


async def unregister(session: AsyncSession, user: User, event_id: int) -> None:
    registration = await registration_of(session, user.id or 0, event_id)
    if registration is None:
        raise StaleAction("not registered", Stale.ANSWERED)
    await session.delete(registration)


async def _registrations(session: AsyncSession, event_id: int) -> list[Registration]:
    return list((await session.exec(select(Registration).where(Registration.event_id == event_id))).all())


async def registrants(session: AsyncSession, event_id: int) -> list[User]:
    query = select(User).join(Registration).where(Registration.event_id == event_id).order_by(col(User.id))
    return list((await session.exec(query)).all())


@dataclass(frozen=True)
class Registrant:
    """Who registered for an event, as the office lists them: the company is a buyer's business or the producer
    a producer claimed (blank when none yet)."""

    user_id: int
    name: str
    company: str
    role: str  # EventRole value
    phone: str
    registered_at: datetime


async def registrant_list(session: AsyncSession, event_id: int) -> list[Registrant]:
    """The event's registrants, in the order they registered."""
    query = (
        select(Registration, User, BuyerProfile, Producer)
        .join(User, col(User.id) == Registration.user_id)
        .outerjoin(BuyerProfile, col(BuyerProfile.user_id) == Registration.user_id)
        .outerjoin(Producer, col(Producer.id) == User.producer_id)
        .where(Registration.event_id == event_id)
        .order_by(col(Registration.created_at), col(Registration.id))
    )
    found = []
    for registration, user, profile, producer in (await session.exec(query)).all():
        if registration.role == EventRole.PRODUCER.value:
            company = producer.name if producer else ""
        else:
            company = profile.company if profile else ""
        found.append(Registrant(user.id or 0, user.display_name, company, registration.role, user.phone,
                                registration.created_at))
    return found


async def running_event_for(session: AsyncSession, user_id: int, now: datetime) -> int | None:
    """The event running today that the user registered for (the earliest started), if any."""
    today = local_day(now)
    query = (
        select(Event.id)
        .join(Registration)
        .where(
            Registration.user_id == user_id,
            Event.status == EventStatus.SCHEDULED.value,
            col(Event.starts_on) <= today,
            col(Event.ends_on) >= today,
        )
        .order_by(col(Event.starts_on), col(Event.id))
    )
    return (await session.exec(query)).first()


async def due_reminders(session: AsyncSession, now: datetime) -> list[tuple[Event, User]]:
    """Registrations to remind now, marked as reminded in the same transaction.

    Due from REMINDER_HOUR on the day before until the start day is over (a process that was down the evening
    before still reminds in the morning); people who registered after the reminder time are not reminded.
    """
    today = local_day(now)
    query = (
        select(Registration, Event, User)
        .join(Event, col(Event.id) == Registration.event_id)
        .join(User, col(User.id) == Registration.user_id)
        .where(
            col(Registration.reminded_at).is_(None),
            Event.status == EventStatus.SCHEDULED.value,
            col(Event.starts_on) >= today,
            col(Event.starts_on) <= today + timedelta(days=1),
        )
        .order_by(col(Registration.id))
    )
    due = []
    for registration, event, user in (await session.exec(query)).all():
        if now >= event.remind_at and registration.created_at < event.remind_at:
            registration.reminded_at = now
            due.append((event, user))
    return due


@dataclass(frozen=True)
class EventStats:
    buyers: int
    producers: int
    memos: dict[str, int]  # status -> count

    @property
    def memo_total(self) -> int:
        return sum(self.memos.values())


async def event_stats(session: AsyncSession, event_id: int) -> EventStats:
    roles = await session.exec(
        select(Registration.role, func.count()).where(Registration.event_id == event_id).group_by(Registration.role)
    )
    by_role = {role: int(n) for role, n in roles.all()}
    memos = await session.exec(
        select(Memo.status, func.count()).where(Memo.event_id == event_id).group_by(col(Memo.status))
    )
    return EventStats(
        buyers=by_role.get(EventRole.BUYER.value, 0),
        producers=by_role.get(EventRole.PRODUCER.value, 0),
        memos=dict(sorted((status, int(n)) for status, n in memos.all())),
    )


def sample_values(row: Mapping[str, str]) -> EventValues:
    """An event of the bundled sample (models/data/sample_events.csv)."""
    return EventValues(
        name=row["name"],
        theme=parse_theme(row["theme"]) if row["theme"] else "",
        venue=row["venue"],
        starts_on=date.fromisoformat(row["starts_on"]),
        ends_on=date.fromisoformat(row["ends_on"]),
        register_by=date.fromisoformat(row["register_by"]),
        description=row.get("description", ""),
    )
