"""An event with people at it, written straight to the database (for the meeting tests and bench/meetings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlmodel import select

from models.catalog import Producer
from models.db import Database
from models.events import Event, EventRole, Registration
from models.meetings import GridValues, save_grid
from models.people import BuyerProfile, Role, User

DAY = date(2026, 12, 10)


@dataclass
class People:
    event_id: int
    office: User
    buyers: list[User]
    producers: list[User]  # producer users, each of another producer


async def event_with_people(db: Database, now: datetime, *, buyers: int, producers: int) -> People:
    """An event on DAY, an admin, ``buyers`` registered buyers and one user (registered as producer) for each of
    the first ``producers`` producers of the catalogue (which must hold that many)."""
    async with db.transaction() as session:
        office = User(display_name="Office", role=Role.ADMIN.value, created_at=now)
        event = Event(name="Kết nối cung cầu", venue="Hà Nội", starts_on=DAY, ends_on=DAY, register_by=DAY,
                      created_at=now, updated_at=now)
        session.add_all([office, event])
        await session.flush()
        made_buyers = []
        for n in range(buyers):
            buyer = User(display_name=f"Buyer {n}", role=Role.BUYER.value, created_at=now)
            session.add(buyer)
            await session.flush()
            session.add(BuyerProfile(user_id=buyer.id or 0, company=f"Công ty Mua {n}"))
            session.add(Registration(event_id=event.id or 0, user_id=buyer.id or 0, role=EventRole.BUYER.value,
                                     created_at=now))
            made_buyers.append(buyer)
        found = (await session.exec(select(Producer).order_by(Producer.id).limit(producers))).all()
        assert len(found) == producers, "the catalogue holds too few producers"
        made_producers = []
        for producer in found:
            user = User(display_name=f"Maker {producer.id}", role=Role.PRODUCER.value, producer_id=producer.id,
                        created_at=now)
            session.add(user)
            await session.flush()
            session.add(Registration(event_id=event.id or 0, user_id=user.id or 0, role=EventRole.PRODUCER.value,
                                     created_at=now))
            made_producers.append(user)
    return People(event.id or 0, office, made_buyers, made_producers)


def day_grid(tables: int = 2, *, hours: tuple[tuple[time, time], ...] = ((time(8), time(12)),),
             breaks: tuple[tuple[time, time], ...] = (), minutes: int = 20, booths: bool = False) -> GridValues:
    return GridValues(days=(DAY,), hours=hours, breaks=breaks, slot_minutes=minutes, tables=0 if booths else tables,
                      booths=booths)


async def open_grid(db: Database, people: People, values: GridValues, now: datetime) -> None:
    async with db.transaction() as session:
        office = await session.get(User, people.office.id)
        assert office is not None
        await save_grid(session, office, people.event_id, values, now)
