"""Booking throughput of one-to-one meetings at a big event, on SQLite and PostgreSQL.

An event of 600 producers and 400 buyers; every buyer books 8 meetings (3,200 in all) with producers spread over
the catalogue, in a day of 24 twenty-minute slots at 140 tables. ``--workers`` bookings run at once, each as a chat
update would: one transaction that lists the free slots with the counterpart and books one of the first three (so
concurrent bookings collide), retried with a fresh list when the slot was taken meanwhile.

Two ways of booking, each on a fresh database, in the same run:

* constraint path (models.meetings.book): row locks on the two sides, unique constraints on the held slot, a
  savepoint and a retry on the next table;
* naive baseline: the same checks in Python (is either side busy? which table is free?) and a plain insert, with
  no lock and no constraint to catch a race.

Printed: bookings a second, p50/p95 of one booking transaction, slots lost to a race (retries), and the double
bookings left in the database (a person or a table in two meetings at once) — the constraint path must leave none.
Then a hot slot: ``--hot`` buyers ask one producer for one slot at the same moment; exactly one must win.

    python bench/meetings.py [--postgres URL] [--workers 16] [--hot 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time as clock
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import fresh_database
from models.catalog import Producer
from models.db import Database
from models.errors import QuotaExceeded
from models.events import Event, EventRole, Registration
from models.meetings import (
    HOLDING,
    Booking,
    GridValues,
    Meeting,
    MeetingPolicy,
    MeetingStatus,
    MeetingTable,
    Side,
    SlotTaken,
    book,
    free_slots,
    save_grid,
    slots_of,
)
from models.people import BuyerProfile, Role, User

PRODUCERS, BUYERS, EACH = 600, 400, 8
TABLES = 140
DAY = date(2026, 12, 10)
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
POLICY = MeetingPolicy(quota=16)  # producers get 5.3 meetings on average, a few more: the quota is not measured
GRID = GridValues(days=(DAY,), hours=((time(8), time(12)), (time(13), time(17))), breaks=(), slot_minutes=20,
                  tables=TABLES)
TRIES = 8


async def seed(db: Database) -> tuple[int, list[int], list[int]]:
    """The event, its grid, 400 registered buyers and 600 producers with a registered user each (bulk inserts)."""
    async with db.transaction() as session:
        office = User(display_name="Office", role=Role.ADMIN.value, created_at=NOW)
        event = Event(name="Kết nối cung cầu", venue="Hà Nội", starts_on=DAY, ends_on=DAY, register_by=DAY,
                      created_at=NOW, updated_at=NOW)
        session.add_all([office, event])
        await session.flush()
        event_id = event.id or 0
        await session.exec(insert(Producer), params=[  # type: ignore[call-overload]
            {"name": f"HTX Bench {n}", "name_key": f"htx bench {n}", "kind": "cooperative", "province": "Hà Nội",
             "address": "", "ward": "", "phone": "", "email": "", "created_at": NOW, "updated_at": NOW}
            for n in range(PRODUCERS)])
        producer_ids = list((await session.exec(select(Producer.id).order_by(col(Producer.id)))).all())
        await session.exec(insert(User), params=[  # type: ignore[call-overload]
            *({"display_name": f"Buyer {n}", "role": Role.BUYER.value, "created_at": NOW} for n in range(BUYERS)),
            *({"display_name": f"Maker {p}", "role": Role.PRODUCER.value, "producer_id": p, "created_at": NOW}
              for p in producer_ids)])
        buyers = list((await session.exec(select(User.id).where(User.role == Role.BUYER.value)
                                          .order_by(col(User.id)))).all())
        makers = list((await session.exec(select(User.id).where(User.role == Role.PRODUCER.value))).all())
        await session.exec(insert(BuyerProfile), params=[  # type: ignore[call-overload]
            {"user_id": b, "company": f"Công ty {b}", "regions": []} for b in buyers])
        await session.exec(insert(Registration), params=[  # type: ignore[call-overload]
            *({"event_id": event_id, "user_id": b, "role": EventRole.BUYER.value, "created_at": NOW} for b in buyers),
            *({"event_id": event_id, "user_id": m, "role": EventRole.PRODUCER.value, "created_at": NOW}
              for m in makers)])
        await save_grid(session, office, event_id, GRID, NOW)
    return event_id, buyers, [p or 0 for p in producer_ids]


def workload(buyers: list[int], producers: list[int], seed_value: int = 7) -> list[tuple[int, int]]:
    """(buyer, producer) pairs: 8 distinct producers per buyer, spread over all of them, in a shuffled order."""
    pairs = [(buyer, producers[(n * 37 + k * 101) % len(producers)]) for n, buyer in enumerate(buyers)
             for k in range(EACH)]
    random.Random(seed_value).shuffle(pairs)
    return pairs


# -- the naive baseline: checks in Python, a plain insert ------------------------------------------------------------


async def naive_book(session: AsyncSession, booking: Booking, slot_id: int) -> Meeting:
    holding = col(Meeting.status).in_([s.value for s in HOLDING])
    busy = (await session.exec(select(func.count()).select_from(Meeting).where(
        Meeting.slot_id == slot_id, holding,
        (Meeting.buyer_user_id == booking.buyer_user_id) | (Meeting.producer_id == booking.producer_id)))).one()
    if busy:
        raise SlotTaken("busy")
    taken = set((await session.exec(select(Meeting.table_id).where(Meeting.slot_id == slot_id, holding))).all())
    tables = (await session.exec(select(MeetingTable.id).where(MeetingTable.event_id == booking.event_id)
                                 .order_by(col(MeetingTable.number)))).all()
    free = [table for table in tables if table not in taken]
    if not free:
        raise SlotTaken("tables")
    meeting = Meeting(event_id=booking.event_id, slot_id=slot_id, table_id=free[0] or 0, active_slot=None,
                      buyer_user_id=booking.buyer_user_id, producer_id=booking.producer_id, requested_as="buyer",
                      status=MeetingStatus.REQUESTED.value, created_at=NOW, updated_at=NOW)
    session.add(meeting)
    await session.flush()
    return meeting


async def naive_free(session: AsyncSession, booking: Booking) -> list[int]:
    holding = col(Meeting.status).in_([s.value for s in HOLDING])
    busy = set((await session.exec(select(Meeting.slot_id).where(
        holding, (Meeting.buyer_user_id == booking.buyer_user_id) | (Meeting.producer_id == booking.producer_id)
    ))).all())
    full = set((await session.exec(select(Meeting.slot_id).where(holding).group_by(col(Meeting.slot_id))
                                   .having(func.count() >= TABLES))).all())
    return [slot.id or 0 for slot in await slots_of(session, booking.event_id) if slot.id not in busy | full][:3]


async def constrained_free(session: AsyncSession, booking: Booking) -> list[int]:
    return [slot.id or 0 for slot in await free_slots(session, booking, NOW, limit=3)]


async def constrained_book(session: AsyncSession, booking: Booking, slot_id: int) -> Meeting:
    buyer = await session.get(User, booking.buyer_user_id)
    assert buyer is not None
    return await book(session, buyer, Side.BUYER, booking, slot_id, POLICY, NOW)


# -- running a workload -----------------------------------------------------------------------------------------------


Free = Callable[[AsyncSession, Booking], Awaitable[list[int]]]
Book = Callable[[AsyncSession, Booking, int], Awaitable[Meeting]]


async def run(db: Database, event_id: int, pairs: list[tuple[int, int]], workers: int, free: Free, make: Book
              ) -> dict[str, float]:
    queue = list(reversed(pairs))
    latencies: list[float] = []
    counts = {"booked": 0, "lost": 0, "gave_up": 0, "errors": 0}
    rng = random.Random(11)

    async def one(buyer: int, producer: int) -> None:
        booking = Booking(event_id, buyer, producer)
        for _try in range(TRIES):
            started = clock.perf_counter()
            try:
                async with db.transaction() as session:
                    slots = await free(session, booking)
                    if not slots:
                        counts["gave_up"] += 1
                        return
                    await make(session, booking, rng.choice(slots))
            except SlotTaken:
                counts["lost"] += 1
                continue
            except QuotaExceeded:
                counts["gave_up"] += 1
                return
            except Exception:  # a deadlock or a busy database: counted, tried again
                counts["errors"] += 1
                continue
            latencies.append(clock.perf_counter() - started)
            counts["booked"] += 1
            return
        counts["gave_up"] += 1

    async def worker() -> None:
        while queue:
            buyer, producer = queue.pop()
            await one(buyer, producer)

    started = clock.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = clock.perf_counter() - started
    latencies.sort()
    return {**counts, "seconds": elapsed, "per_second": counts["booked"] / elapsed,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
            "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0.0}


async def double_bookings(db: Database) -> int:
    """Meetings beyond the first of a person or a table in one slot (0 when the rules held)."""
    holding = col(Meeting.status).in_([s.value for s in HOLDING])
    extra = 0
    async with db.session() as session:
        for column in (Meeting.buyer_user_id, Meeting.producer_id, Meeting.table_id):
            rows = (await session.exec(select(func.count()).select_from(Meeting).where(holding)
                                       .group_by(col(Meeting.slot_id), col(column)).having(func.count() > 1))).all()
            extra += sum(int(n) - 1 for n in rows)
    return extra


async def hot_slot(db: Database, event_id: int, buyers: list[int], producer: int, hot: int) -> tuple[int, int, float]:
    """``hot`` buyers ask one producer for the same slot at once: (won, told taken, seconds)."""
    async with db.session() as session:
        slot = (await slots_of(session, event_id))[-1].id or 0
    results: list[str] = []

    async def attempt(buyer: int) -> None:
        try:
            async with db.transaction() as session:
                await constrained_book(session, Booking(event_id, buyer, producer), slot)
            results.append("won")
        except SlotTaken:
            results.append("taken")
        except QuotaExceeded:
            results.append("quota")

    started = clock.perf_counter()
    await asyncio.gather(*(attempt(buyer) for buyer in buyers[:hot]))
    return results.count("won"), results.count("taken"), clock.perf_counter() - started


async def bench(url: str | None, name: str, workers: int, hot: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for label, free, make in (("naive (baseline)", naive_free, naive_book),
                                  ("constraints + locks", constrained_free, constrained_book)):
            async with fresh_database(url, folder) as db:
                event_id, buyers, producers = await seed(db)
                if make is constrained_book:  # first, while every slot is free: one producer, one slot, many buyers
                    won, taken, seconds = await hot_slot(db, event_id, buyers, producers[-1], hot)
                    hot_line = (f"Hot slot on {name}: {hot} buyers ask one producer for one slot at once → {won} "
                                f"won, {taken} told it was taken, in {seconds * 1000:.0f} ms")
                figures = await run(db, event_id, workload(buyers, producers), workers, free, make)
                doubles = await double_bookings(db)
                print(f"| {name} | {label} | {workers} | {figures['booked']:,.0f} | {figures['per_second']:.0f} | "
                      f"{figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | {figures['lost']:.0f} | "
                      f"{figures['errors']:.0f} | {figures['gave_up']:.0f} | **{doubles}** |", flush=True)
            if url is None:
                for path in Path(folder).glob("bench.sqlite3*"):
                    path.unlink()
        print(hot_line, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("OCOP_TEST_POSTGRES_URL",
                                                             "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--hot", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgres"), default=None)
    args = parser.parse_args()
    print(f"{PRODUCERS} producers, {BUYERS} buyers × {EACH} meetings, {TABLES} tables, 24 slots")
    print("| database | booking | at once | booked | a second | p50 ms | p95 ms | slots lost to a race | "
          "errors retried | not booked | double bookings |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    if args.only in (None, "sqlite"):
        await bench(None, "SQLite", args.workers, args.hot)
    if args.only in (None, "postgres"):
        await bench(args.postgres, "PostgreSQL", args.workers, args.hot)


if __name__ == "__main__":
    asyncio.run(main())
