"""Partner-suggestion benchmark: an event with 600 producers and 400 buyers (each buyer with a profile, some recent
searches and contact requests) in a catalogue of 8,000 products, on SQLite and on PostgreSQL.

    .venv/bin/python bench/suggestions.py                     # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/suggestions.py --databases sqlite  # one backend
    .venv/bin/python bench/suggestions.py --producers 60 --buyers 40 --products 1000   # a smaller run

Measured, per person (a buyer's suggested producers, a producer's suggested buyers), p50 and p95 over a sample:
  * queries  — loading the event's people alone (models/matchmaking.event_producers / event_buyers), no scoring;
  * uncached — the queries and the scoring of every pair (models/matchmaking.suggest_*), the other side loaded
               afresh: what /suggest costs when something changed since the last suggestion (a search, a request…);
  * suggest  — what /suggest computes when nothing changed: the other side kept by the process (EventPeople);
  * chat     — /suggest through the real Conversation (one transaction: state, scoring, rendering);
  * naive    — the baseline: the same scores with the partners loaded one by one (a query or three per pair).
Target: p95 ≤ 200 ms for uncached and suggest. Exit status: 0 when it ran (a target may still FAIL; --strict makes that 1), 2 when it
could not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlmodel import col, select

from bench.catalog_gen import bundled_documents, generate
from bench.databases import fresh_database
from bot.runtime import freeze_startup_heap
from handlers.app import Conversation
from handlers.context import Services
from handlers.messages import Capabilities, Incoming
from models import geography
from models import matchmaking as mm
from models.catalog import Producer, Product
from models.clock import FakeClock
from models.db import Database
from models.events import EventRole, EventValues, Registration, add_event
from models.people import BuyerKind, BuyerProfile, Identity, Role, User
from models.query import parse_query
from models.requests import ContactRequest
from models.search_log import record_search
from models.search_service import SearchService
from models.text import normalize

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)
TARGET_MS = 200.0
CHUNK = 2000
CONSOLE = Capabilities(buttons=False, edits=False, documents=False, request_contact=False, max_text=4096)


async def _insert(db: Database, table: type, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as session:
            await session.exec(insert(table), params=rows[start:start + CHUNK])  # type: ignore[call-overload]


async def _ids(db: Database, column: object, *where: object) -> list[int]:
    async with db.session() as session:
        return [int(n) for n in (await session.exec(select(column).where(*where).order_by(column))).all()]


async def seed(db: Database, products: int, producers: int, buyers: int) -> int:
    """The catalogue, the people and the event; returns the event's id."""
    rng = random.Random(17)
    documents = generate(products, bundled_documents())
    makers: dict[tuple[str, str], list] = {}
    for doc in documents:
        makers.setdefault((normalize(doc.producer), doc.province), []).append(doc)
    keys = sorted(makers)
    await _insert(db, Producer, [
        {"name": makers[key][0].producer, "name_key": key[0], "kind": makers[key][0].producer_kind,
         "province": key[1], "old_province": makers[key][0].old_province, "address": "", "ward": "",
         "phone": "", "email": "", "zalo": "", "telegram": "", "created_at": NOW, "updated_at": NOW}
        for key in keys])
    producer_ids = await _ids(db, Producer.id)
    rows = []
    for producer_id, key in zip(producer_ids, keys, strict=True):
        for doc in makers[key]:
            rows.append({"producer_id": producer_id, "name": doc.name, "name_key": normalize(doc.name),
                         "group": doc.group, "subgroup": doc.subgroup, "stars": doc.stars,
                         "potential_5": doc.potential_5, "decision_no": "", "decision_date": doc.decision_date,
                         "description": "", "unit": "", "capacity": "", "season": "", "photo": "", "hidden": False,
                         "created_at": NOW, "updated_at": NOW})
    await _insert(db, Product, rows)
    product_rows = [(n + 1, row) for n, row in enumerate(rows)]  # ids follow the insert order on a fresh database

    async with db.transaction() as session:
        event = await add_event(session, EventValues("Kết nối cung cầu Hà Nội", "", "Hà Nội", TODAY + timedelta(13),
                                                     TODAY + timedelta(14), TODAY + timedelta(12)), None, NOW)
        event_id = event.id or 0
    at_event = rng.sample(producer_ids, min(producers, len(producer_ids)))
    kinds = [kind.value for kind in BuyerKind]
    regions = list(geography.NEW_REGIONS)
    people = [{"display_name": f"Chủ thể {n}", "role": Role.PRODUCER.value, "producer_id": pid, "language": "vi",
               "phone": "", "blocked": False, "created_at": NOW} for n, pid in enumerate(at_event)]
    people += [{"display_name": f"Người mua {n}", "role": Role.BUYER.value, "producer_id": None, "language": "vi",
                "phone": "", "blocked": False, "created_at": NOW} for n in range(buyers)]
    await _insert(db, User, people)
    user_ids = await _ids(db, User.id)
    producer_users, buyer_users = user_ids[:len(at_event)], user_ids[len(at_event):]
    await _insert(db, Identity, [{"user_id": uid, "channel": "console", "external_id": f"u{uid}", "created_at": NOW}
                                 for uid in user_ids])
    await _insert(db, Registration, [
        {"event_id": event_id, "user_id": uid, "role": (EventRole.PRODUCER if uid in producer_users else
                                                        EventRole.BUYER).value, "created_at": NOW}
        for uid in user_ids])
    await _insert(db, BuyerProfile, [
        {"user_id": uid, "company": f"Công ty Phân phối {n}", "kind": rng.choice(kinds),
         "regions": rng.sample(regions, rng.choice((0, 1, 1, 2))), "representative": "", "position": "",
         "address": "", "tax_code": "", "email": "", } for n, uid in enumerate(buyer_users)])
    requests = []
    async with db.transaction() as session:
        for uid in buyer_users:
            for _ in range(rng.choice((0, 2, 4, 6, 8))):  # searches: a kind of product, maybe a place or stars
                _id, row = rng.choice(product_rows)
                text = " ".join(row["name"].split()[:2])
                if rng.random() < 0.4:
                    text += " " + geography.region_of(rng.choice(sorted(geography.CURRENT_UNITS)))
                if rng.random() < 0.2:
                    text += " 4 sao"
                await record_search(session, uid, parse_query(text), None, NOW - timedelta(days=rng.randrange(60)))
            for _ in range(rng.choice((0, 1, 2, 3, 5))):
                product_id, row = rng.choice(product_rows)
                requests.append({"buyer_user_id": uid, "product_id": product_id, "producer_id": row["producer_id"],
                                 "message": "Cần hàng", "volume": "", "season": "", "status": "pending",
                                 "created_at": NOW - timedelta(days=rng.randrange(60))})
    await _insert(db, ContactRequest, requests)
    return event_id


def percentile(samples: list[float], share: float) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(share * 100) - 1]


async def timed(runs: list[Callable[[], Awaitable[object]]]) -> list[float]:
    samples = []
    for run in runs:
        start = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def naive_for_buyer(db: Database, event_id: int, buyer_id: int) -> list[mm.Match]:
    """The baseline: each producer at the event loaded on its own (its row, then its products)."""
    async with db.session() as session:
        buyer = (await mm.event_buyers(session, event_id, NOW, only=buyer_id))[0]
        ids = await session.exec(
            select(User.producer_id).join(Registration, col(Registration.user_id) == User.id)
            .where(Registration.event_id == event_id, Registration.role == EventRole.PRODUCER.value,
                   col(User.producer_id).is_not(None)))
        producers = [(await mm.event_producers(session, event_id, only=pid))[0] for pid in sorted(set(ids.all()))]
    return mm.for_buyer(buyer, producers, TODAY)


async def naive_for_producer(db: Database, event_id: int, producer_id: int) -> list[mm.Match]:
    """The baseline: each buyer at the event loaded on its own (profile, searches, requests)."""
    async with db.session() as session:
        producer = (await mm.event_producers(session, event_id, only=producer_id))[0]
        ids = await session.exec(select(Registration.user_id).where(
            Registration.event_id == event_id, Registration.role == EventRole.BUYER.value))
        buyers = [(await mm.event_buyers(session, event_id, NOW, only=uid))[0] for uid in sorted(ids.all())]
    return mm.for_producer(producer, buyers, TODAY)


async def measure(db: Database, event_id: int, sample: int, naive_sample: int) -> list[tuple[str, str, list[float]]]:
    rng = random.Random(5)
    freeze_startup_heap()  # as `ocop-bot serve` does once started
    async with db.session() as session:
        registered = (await session.exec(
            select(Registration.user_id, Registration.role, User.producer_id)
            .join(User, col(User.id) == Registration.user_id).where(Registration.event_id == event_id))).all()
    buyers = sorted(uid for uid, role, _pid in registered if role == EventRole.BUYER.value)
    producers = sorted((uid, pid) for uid, role, pid in registered if role == EventRole.PRODUCER.value)
    buyers_sampled = rng.sample(buyers, min(sample, len(buyers)))
    producers_sampled = rng.sample(producers, min(sample, len(producers)))
    conversation = Conversation(Services(db=db, search=SearchService(db), clock=FakeClock(NOW)))

    async def queries_buyer(uid: int) -> None:
        async with db.session() as session:
            await mm.event_buyers(session, event_id, NOW, only=uid)
            await mm.event_producers(session, event_id)

    async def queries_producer(pid: int) -> None:
        async with db.session() as session:
            await mm.event_producers(session, event_id, only=pid)
            await mm.event_buyers(session, event_id, NOW)

    kept = mm.EventPeople()

    async def suggest_buyer(uid: int, people: mm.EventPeople | None = kept) -> None:
        async with db.session() as session:
            assert await mm.suggest_producers(session, event_id, uid, NOW, TODAY, people)

    async def suggest_producer(pid: int, people: mm.EventPeople | None = kept) -> None:
        async with db.session() as session:
            assert await mm.suggest_buyers(session, event_id, pid, NOW, TODAY, people)

    async def chat(uid: int) -> None:
        incoming = Incoming(channel="console", user_id=f"u{uid}", chat_id=f"u{uid}", text="/suggest")
        replies = await conversation.handle(incoming, CONSOLE)
        assert replies and "1. " in replies[0].text, replies

    results = []
    for role, people, queries, suggest, naive in (
        ("buyer", buyers_sampled, queries_buyer, suggest_buyer, naive_for_buyer),
        ("producer", [pid for _uid, pid in producers_sampled], queries_producer, suggest_producer,
         naive_for_producer),
    ):
        chatting = buyers_sampled if role == "buyer" else [uid for uid, _pid in producers_sampled]
        await suggest(people[0])  # warm up: connections, caches, the message catalogues
        await chat(chatting[0])
        results.append((role, "queries", await timed([lambda p=p, q=queries: q(p) for p in people])))
        results.append((role, "uncached", await timed([lambda p=p, s=suggest: s(p, None) for p in people])))
        results.append((role, "suggest", await timed([lambda p=p, s=suggest: s(p) for p in people])))
        results.append((role, "chat", await timed([lambda u=u: chat(u) for u in chatting])))
        results.append((role, "naive", await timed(
            [lambda p=p, n=naive: n(db, event_id, p) for p in people[:naive_sample]])))
    return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--products", type=int, default=8000)
    parser.add_argument("--producers", type=int, default=600)
    parser.add_argument("--buyers", type=int, default=400)
    parser.add_argument("--sample", type=int, default=100, help="people timed for each role")
    parser.add_argument("--naive-sample", type=int, default=10, help="people timed with the baseline")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    postgres = os.environ.get("OCOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    failed = False
    print(f"event: {args.producers} producers, {args.buyers} buyers; catalogue of {args.products} products; "
          f"p50/p95 over {args.sample} people per role ({args.naive_sample} for the naive baseline)")
    print(f"{'database':<10} {'role':<9} {'measure':<8} {'p50':>8} {'p95':>8}  target ≤ {TARGET_MS:.0f} ms (uncached, suggest)")
    for backend in args.databases.split(","):
        url = None if backend == "sqlite" else postgres
        try:
            with tempfile.TemporaryDirectory() as folder:
                async with fresh_database(url, folder) as db:
                    started = time.perf_counter()
                    event_id = await seed(db, args.products, args.producers, args.buyers)
                    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
                    print(f"{backend}: seeded in {time.perf_counter() - started:.0f} s; load average {load} "
                          f"on {os.cpu_count()} cores")
                    for role, name, samples in await measure(db, event_id, args.sample, args.naive_sample):
                        p95 = percentile(samples, 0.95)
                        verdict = ""
                        if name in ("suggest", "uncached"):
                            verdict = "ok" if p95 <= TARGET_MS else "FAIL"
                            failed |= verdict == "FAIL"
                        print(f"{backend:<10} {role:<9} {name:<8} {percentile(samples, 0.5):>5.0f} ms {p95:>5.0f} ms"
                              f"  {verdict}")
        except OSError as error:
            print(f"{backend}: could not run ({error})")
            return 2
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
