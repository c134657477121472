"""/metrics benchmark: what a scrape costs when the outbox and the broadcasts are as big as a busy week leaves them,
and what counting costs the hot path.

    .venv/bin/python bench/metrics_scrape.py                        # SQLite and PostgreSQL
    .venv/bin/python bench/metrics_scrape.py --databases sqlite --sent 50000

Seeded with bulk inserts: ``--sent`` messages sent in the last 7 days (kept that long), ``--waiting`` still to send
over 3 channels (a third of them notifications), and a broadcast of ``--recipients`` being sent (half done).
Measured over HTTP on a loopback port, p50 and p95 of ``--times`` scrapes of /metrics (with the token), beside the
same run's baselines: /readyz over HTTP, and the database work the old /healthz did (SELECT 1 and the two backlog
counts, the outbox's as one count over the whole table), run directly. Then the hot path: one labelled counter increment, beside a plain dict increment.
Target: a scrape p95 ≤ 100 ms (Prometheus scrapes every 15–60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from sqlalchemy import insert

from bench.databases import fresh_database
from bot.monitoring import database_health
from bot.web import make_app, start_site
from handlers.context import Services
from models import inbox, outbox
from models.broadcasts import Broadcast, Delivery
from models.clock import FakeClock
from models.db import Database
from models.metrics import Metrics
from models.outbox import OutboundMessage
from models.people import Role, User
from models.search_service import SearchService

TOKEN = "bench-scrape-token-0123456789"
TARGET_MS = 100.0
CHUNK = 5000


async def seed(db: Database, sent: int, waiting: int, recipients: int, clock: FakeClock) -> None:
    now = clock.now()
    async with db.transaction() as session:
        admin = User(display_name="office", role=Role.ADMIN.value)
        session.add(admin)
        await session.flush()
        broadcast = Broadcast(created_by=admin.id or 0, admin_channel="telegram", admin_chat_id="1", text="Hội chợ",
                              audience="all", total=recipients, created_at=now, started_at=now)
        session.add(broadcast)
        await session.flush()
        broadcast_id, user_id = broadcast.id, admin.id
    channels = ("telegram", "zalo_bot", "zalo_oa")
    rows = []
    for n in range(sent + waiting):
        done = n < sent
        rows.append({"channel": channels[n % 3], "chat_id": str(1000 + n % 5000), "body": {"text": "Xin chào"},
                     "context": {}, "notification_id": None,
                     "created_at": now - timedelta(seconds=(sent + waiting - n) * 2),
                     "sent_at": now if done else None, "attempts": 0, "last_error": "", "given_up": ""})
    deliveries = [{"broadcast_id": broadcast_id, "user_id": user_id, "channel": "telegram", "external_id": str(n),
                   "status": "sent" if n % 2 else "pending", "attempts": 0, "last_error": ""}
                  for n in range(recipients)]
    for table, values in ((OutboundMessage, rows), (Delivery, deliveries)):
        for start in range(0, len(values), CHUNK):
            async with db.transaction() as session:
                await session.exec(insert(table), params=values[start:start + CHUNK])  # type: ignore[call-overload]


def quantiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


async def timed(run: Callable[[], Awaitable[object]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def measure(db: Database, clock: FakeClock, times: int) -> dict[str, tuple[float, float]]:
    services = Services(db=db, search=SearchService(db), clock=clock)
    runner, port = await start_site(make_app(services, metrics_token=TOKEN), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            async def get(path: str) -> None:
                async with client.get(base + path) as answer:
                    await answer.read()
                    assert answer.status in (200, 503), (path, answer.status)

            await get("/metrics")  # the first scrape makes the connections
            results = {}
            for path in ("/readyz", "/metrics"):
                results[path] = quantiles(await timed(lambda path=path: get(path), times))

            async def old_healthz() -> None:  # what /healthz asked before: one count over the whole outbox
                await database_health(db, 2.0)
                async with db.session() as session:
                    await inbox.backlog(session)
                    await outbox.backlog(session)

            results["old /healthz queries"] = quantiles(await timed(old_healthz, times))
            return results
    finally:
        await runner.cleanup()


def hot_path(times: int = 200_000) -> tuple[float, float]:
    """Nanoseconds per labelled counter increment, and per plain dict increment (the baseline)."""
    metrics = Metrics()
    started = time.perf_counter()
    for _ in range(times):
        metrics.messages_sent.labels("telegram", "reply").inc()
    counter = (time.perf_counter() - started) / times * 1e9
    plain: dict[tuple[str, str], int] = {}
    started = time.perf_counter()
    for _ in range(times):
        plain[("telegram", "reply")] = plain.get(("telegram", "reply"), 0) + 1
    return counter, (time.perf_counter() - started) / times * 1e9


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--sent", type=int, default=300_000)
    parser.add_argument("--waiting", type=int, default=3_000)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--times", type=int, default=40)
    args = parser.parse_args()
    postgres = os.environ.get("OCOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    print(f"{args.sent} sent and {args.waiting} waiting messages, a broadcast of {args.recipients}; "
          f"p50 / p95 over {args.times} requests; target /metrics p95 ≤ {TARGET_MS:.0f} ms")
    for backend in args.databases.split(","):
        clock = FakeClock()
        try:
            with tempfile.TemporaryDirectory() as folder:
                async with fresh_database(None if backend == "sqlite" else postgres, folder) as db:
                    started = time.perf_counter()
                    await seed(db, args.sent, args.waiting, args.recipients, clock)
                    seeded = time.perf_counter() - started
                    results = await measure(db, clock, args.times)
        except OSError as error:
            print(f"{backend}: could not run ({error})")
            return 2
        verdict = "ok" if results["/metrics"][1] <= TARGET_MS else "FAIL"
        shown = "   ".join(f"{name} {p50:6.1f} / {p95:6.1f} ms" for name, (p50, p95) in results.items())
        print(f"{backend:<9} {shown}   {verdict}  (seeded in {seeded:.0f} s)")
    counter, plain = hot_path()
    print(f"hot path: a labelled counter increment {counter:.0f} ns, baseline a dict increment {plain:.0f} ns")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
