"""Dashboard benchmark: the overview and the memo table over HTTP with 100,000 products, 20,000 contact requests and
5,000 memos, on SQLite and on PostgreSQL, beside the time of the same queries run directly (no HTTP, no template,
no chart).

    .venv/bin/python bench/dashboard.py                       # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/dashboard.py --databases sqlite    # one backend
    .venv/bin/python bench/dashboard.py --products 10000      # a smaller run

Target: p95 ≤ 300 ms for each page. The overview's charts are drawn once per set of figures (models/charts.py):
the first view after the figures change pays for drawing them, shown apart as "first view"; the p95 is over the
views after it. Exit status: 0 when it ran (a target may still FAIL; --strict makes that 1), 2 when it could not.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from sqlalchemy import insert
from sqlmodel import select

from bench.databases import fresh_database
from bot.runtime import freeze_startup_heap
from bot.web import make_app, start_site
from handlers.context import Services
from models import geography
from models.catalog import Producer, Product
from models.clock import FakeClock
from models.dashboard import issue_login
from models.db import Database
from models.memos import Memo, MemoStatus
from models.people import Role, User
from models.requests import ContactRequest, RequestStatus
from models.search_service import SearchService
from models.stats import programme_stats, weekly_trend
from models.tables import memo_page

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
TARGET_MS = 300.0
CHUNK = 2000


async def _insert(db: Database, table: type, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as session:
            await session.exec(insert(table), params=rows[start:start + CHUNK])  # type: ignore[call-overload]


async def seed(db: Database, products: int, requests: int, memos: int) -> None:
    rng = random.Random(16)
    units = sorted(geography.CURRENT_UNITS)
    producers = products // 10
    await _insert(db, Producer, [
        {"name": f"HTX số {n}", "name_key": f"htx so {n}", "kind": "cooperative", "province": rng.choice(units),
         "address": "", "ward": "", "phone": "", "email": "", "zalo": "", "telegram": "", "created_at": NOW,
         "updated_at": NOW} for n in range(1, producers + 1)])
    await _insert(db, Product, [
        {"producer_id": 1 + n % producers, "name": f"Sản phẩm {n}", "name_key": f"san pham {n}",
         "group": 1 + n % 6, "stars": rng.choice((3, 3, 4, 4, 5)), "potential_5": n % 50 == 0, "hidden": n % 200 == 0,
         "subgroup": "", "decision_no": "", "description": "", "unit": "", "capacity": "", "season": "", "photo": "",
         "created_at": NOW, "updated_at": NOW} for n in range(1, products + 1)])
    buyers = max(requests // 10, 1)
    await _insert(db, User, [{"display_name": "Office", "role": Role.ADMIN.value, "language": "vi", "phone": "",
                              "blocked": False, "created_at": NOW}])
    await _insert(db, User, [{"display_name": f"Người mua {n}", "role": Role.BUYER.value, "language": "vi",
                              "phone": "", "blocked": False, "created_at": NOW} for n in range(buyers)])
    statuses = [s.value for s in RequestStatus]
    rows = []
    for n in range(requests):
        created = NOW - timedelta(minutes=rng.randrange(60 * 24 * 90))
        status = rng.choice(statuses)
        answered = created + timedelta(hours=rng.uniform(0.5, 72)) if status in ("accepted", "declined") else None
        product = 1 + rng.randrange(products)
        rows.append({"buyer_user_id": 2 + n % buyers, "product_id": product, "producer_id": 1 + (product - 1) % producers,
                     "message": "Cần hàng", "volume": "", "season": "", "status": status, "created_at": created,
                     "answered_at": answered})
    await _insert(db, ContactRequest, rows)
    memo_statuses = [s.value for s in MemoStatus]
    await _insert(db, Memo, [
        {"year": 2026, "seq": n + 1, "request_id": n + 1, "buyer_user_id": rows[n]["buyer_user_id"], "producer_id": rows[n]["producer_id"],
         "product_id": rows[n]["product_id"], "status": (status := rng.choice(memo_statuses)), "message": "",
         "volume": "", "season": "", "buyer_company": f"Siêu thị {n}", "buyer_kind": "supermarket", "buyer_name": "",
         "buyer_phone": "", "producer_name": f"HTX số {rows[n]['producer_id']}", "producer_address": "",
         "producer_phone": "", "producer_email": "", "created_at": rows[n]["created_at"],
         "updated_at": rows[n]["created_at"],
         "signed_at": NOW - timedelta(days=rng.randrange(60)) if status == "signed" else None}
        for n in range(memos)])


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


async def timed(run: Callable[[], Awaitable[object]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def measure(db: Database, times: int) -> list[tuple[str, float, float, float]]:
    """(page, first view ms, p95 over the next views ms, p95 of its queries alone ms)."""
    services = Services(db=db, search=SearchService(db), clock=FakeClock(NOW))
    runner, port = await start_site(make_app(services), "127.0.0.1", 0)
    freeze_startup_heap()  # as `ocop-bot serve` does once started
    base = f"http://127.0.0.1:{port}"
    services.web_url = base
    try:
        async with db.transaction() as session:
            office = (await session.exec(select(User).where(User.role == Role.ADMIN.value))).one()
            token = issue_login(session, office, NOW)
        async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.post("/dashboard/login", data={"token": token}, allow_redirects=False) as answer:
                assert answer.status == 303, await answer.text()

            async def get(path: str) -> None:
                async with client.get(path) as page:
                    assert page.status == 200, path
                    await page.read()

            pages = iter(range(1, 10_000))

            async def overview_queries() -> None:
                async with db.session() as session:
                    await programme_stats(session)
                    await weekly_trend(session, NOW)

            async def memo_queries() -> None:
                async with db.session() as session:
                    await memo_page(session, None, 1 + next(pages) % 50)

            results = []
            for name, path, queries in (("overview", "/dashboard", overview_queries),
                                        ("memo table", "/dashboard/memos", memo_queries)):
                first = (await timed(lambda path=path: get(path), 1))[0]
                views = await timed(lambda path=path: get(f"{path}?page={1 + next(pages) % 50}"), times)
                raw = await timed(queries, times)
                results.append((name, first, p95(views), p95(raw)))
            return results
    finally:
        await runner.cleanup()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--memos", type=int, default=5_000)
    parser.add_argument("--times", type=int, default=40)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    postgres = os.environ.get("OCOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    failed = False
    print(f"{args.products} products, {args.requests} requests, {args.memos} memos; p95 over {args.times} views")
    print(f"{'database':<10} {'page':<11} {'first view':>11} {'p95':>9} {'queries p95':>12}  target ≤ {TARGET_MS:.0f} ms")
    for backend in args.databases.split(","):
        url = None if backend == "sqlite" else postgres
        try:
            with tempfile.TemporaryDirectory() as folder:
                async with fresh_database(url, folder) as db:
                    started = time.perf_counter()
                    await seed(db, args.products, args.requests, min(args.memos, args.requests))
                    seeded = time.perf_counter() - started
                    for name, first, view, raw in await measure(db, args.times):
                        verdict = "ok" if view <= TARGET_MS else "FAIL"
                        failed |= verdict == "FAIL"
                        print(f"{backend:<10} {name:<11} {first:>8.0f} ms {view:>6.0f} ms {raw:>9.0f} ms  {verdict}"
                              f"  (seeded in {seeded:.0f} s)")
        except OSError as error:
            print(f"{backend}: could not run ({error})")
            return 2
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
