"""Telegram channel throughput: webhook POST → inbox → handler → database → outbox → sendMessage to a loopback
fake Bot API, on the durable path (an update is stored before its 200, handled in a transaction that writes its
reply to the outbox, and the reply is sent from the outbox and marked sent).

Our bot (the real TelegramChannel and Conversation on a 20k-product catalogue, on SQLite and on PostgreSQL) is
measured side by side with a bare python-telegram-bot echo bot on the same fake server, fed the same way, as the
ceiling:
- saturation: N updates posted as fast as 64 concurrent clients can, updates/s until every reply arrived;
- latency: updates paced at 50/s, time from the POST to the first reply reaching the fake, p50/p95/p99.
The mix is search-heavy: 80 % noisy search queries from bench/queries.jsonl, 10 % product cards (button presses),
10 % /help, from 300 users (known to the bot after a warm-up round). Telegram's overall 30 msg/s limit is off on both
bots (the point is processing capacity; bench/telegram_burst.py measures the limits); both keep one message a second
to a chat (the echo bot through PTB's AIORateLimiter and a per-chat limiter, ours through its pacer).
Targets: ours ≥ 0.70 of the echo ceiling (aim 0.85) on each database; p95 ≤ 100 ms at 50 updates/s. Exits non-zero
if it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiolimiter import AsyncLimiter
from sqlalchemy import insert
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_gen import bundled_documents, generate
from bench.databases import fresh_database
from bench.engines import percentile
from bot.config import TelegramSettings
from bot.pacing import Pacer
from bot.telegram import TelegramChannel
from bot.web import make_app, start_site
from handlers.app import Conversation
from handlers.context import Services
from models.catalog import Producer, Product
from models.db import Database, utcnow
from models.search import Document
from models.search_service import SearchService
from models.text import normalize
from tests.fake_telegram import TOKEN, FakeTelegram

SECRET = "bench-secret-0123456789"
POSTGRES_DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
RATIO_TARGET, RATIO_AIM = 0.70, 0.85
QUERIES = Path(__file__).with_name("queries.jsonl")
HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


async def load_catalogue(db: Database, documents: Sequence[Document]) -> None:
    """Bulk-insert benchmark documents as producers and products."""
    now = utcnow()
    producers: dict[tuple[str, str], int] = {}
    producer_rows, product_rows = [], []
    for doc in documents:
        key = (normalize(doc.producer), doc.province)
        if key not in producers:
            producers[key] = len(producers) + 1
            producer_rows.append(
                {
                    "id": producers[key],
                    "name": doc.producer,
                    "name_key": key[0],
                    "kind": doc.producer_kind,
                    "address": doc.address,
                    "ward": doc.ward,
                    "province": doc.province,
                    "old_province": doc.old_province,
                    "phone": "0900 000 000",
                    "email": "",
                    "zalo": "",
                    "telegram": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        product_rows.append(
            {
                "id": doc.id,
                "producer_id": producers[key],
                "name": doc.name,
                "name_key": normalize(doc.name),
                "group": doc.group,
                "subgroup": doc.subgroup,
                "stars": doc.stars,
                "potential_5": doc.potential_5,
                "decision_no": "1/QĐ-UBND",
                "decision_date": None,
                "description": doc.description,
                "unit": "",
                "capacity": "",
                "season": "",
                "photo": "",
                "hidden": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    async with db.engine.begin() as connection:
        await connection.execute(insert(Producer), producer_rows)
        await connection.execute(insert(Product), product_rows)


def workload(count: int, product_ids: Sequence[int], seed: int) -> list[tuple[str, str]]:
    """(kind, payload) pairs: 80 % searches, 10 % product cards, 10 % /help."""
    rng = random.Random(seed)
    texts = [json.loads(line)["query"] for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.8:
            items.append(("text", rng.choice(texts)))
        elif roll < 0.9:
            items.append(("button", f"p:{rng.choice(product_ids)}"))
        else:
            items.append(("text", "/help"))
    return items


class Target:
    """A bot behind a webhook URL on the same fake Bot API."""

    def __init__(self, name: str, url: str, stop: Callable[[], Awaitable[None]]) -> None:
        self.name, self.url, self.stop = name, url, stop


async def start_ours(fake: FakeTelegram, db: Database) -> Target:
    """The real channel on the durable path: each update stored in the inbox before the 200, handled in a
    transaction that writes its reply to the outbox, the reply sent from the outbox and marked sent."""
    services = Services(db=db, search=SearchService(db, check_interval=3600))
    await services.search.refresh()
    settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, mode="webhook", webhook_secret=SECRET)  # type: ignore[arg-type]
    channel = TelegramChannel(Conversation(services), settings, pacer=Pacer(0, 1.0))  # as the echo bot: per chat only
    app = make_app(services)
    await channel.start(app)
    runner, port = await start_site(app, "127.0.0.1", 0)
    running = asyncio.create_task(channel.run())
    await asyncio.wait_for(channel.connected.wait(), 30)

    async def stop() -> None:
        channel.stopping.set()
        await running
        await runner.cleanup()

    return Target("ocop-bot", f"http://127.0.0.1:{port}/telegram/webhook", stop)


class PerChatLimiter(AIORateLimiter):
    """The echo bot's limits, as ours: no overall limit (off for both), one message a second to a private chat."""

    def __init__(self) -> None:
        super().__init__(overall_max_rate=0, group_max_rate=0)
        self._chats: dict[int, AsyncLimiter] = {}

    async def process_request(  # type: ignore[override]
        self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat = data.get("chat_id")
        if not isinstance(chat, int):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self._chats.setdefault(chat, AsyncLimiter(1, 1.0)):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


async def start_echo(fake: FakeTelegram) -> Target:
    application: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .updater(None)
        .concurrent_updates(256)
        .rate_limiter(PerChatLimiter())
        .build()
    )

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()
            await application.bot.send_message(update.callback_query.from_user.id, update.callback_query.data or "")
        elif update.message is not None:
            await update.message.reply_text(update.message.text or "")

    application.add_handler(TypeHandler(Update, echo))

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
            return web.Response(status=403)
        await application.update_queue.put(Update.de_json(await request.json(), application.bot))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/echo", webhook)
    await application.initialize()
    await application.start()
    runner, port = await start_site(app, "127.0.0.1", 0)

    async def stop() -> None:
        await application.stop()
        await application.shutdown()
        await runner.cleanup()

    return Target("PTB echo bot", f"http://127.0.0.1:{port}/echo", stop)


def make_update(fake: FakeTelegram, user_id: int, kind: str, payload: str) -> dict[str, Any]:
    if kind == "button":
        return fake.callback_update(user_id, payload)
    return fake.message_update(user_id, payload)


async def replies(fake: FakeTelegram, since: int, expected: dict[int, int], timeout: float) -> dict[int, list[float]]:
    """Arrival times of replies per chat, after call index ``since``; waits until each chat got its count."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[int, list[float]] = {chat: [] for chat in expected}
        for call in fake.calls[since:]:
            if call.method.startswith(("send", "edit")) and "!" not in call.method and call.chat_id in got:
                got[call.chat_id].append(call.at)  # type: ignore[index]
        if all(len(got[c]) >= n for c, n in expected.items()) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


async def drive(
    target: Target, fake: FakeTelegram, items: list[tuple[str, str]], users: Sequence[int], rate: float | None
) -> tuple[float, list[float]]:
    """Post every item (paced at ``rate``/s, or as fast as 64 clients can); returns (updates/s, latencies ms).

    Each update gets exactly one reply and one chat's updates are answered in order, so the k-th reply to a chat
    answers its k-th update.
    """
    since = len(fake.calls)
    posted: dict[int, list[float]] = {user: [] for user in users}
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:

        async def post(i: int) -> None:
            if rate:
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            user = users[i % len(users)]
            update = make_update(fake, user, *items[i])
            posted[user].append(time.monotonic())
            async with session.post(target.url, json=update, headers=HEADER) as response:
                if response.status != 200:
                    raise RuntimeError(f"{target.name}: webhook answered {response.status}")

        if rate:
            await asyncio.gather(*(post(i) for i in range(len(items))))
        else:
            queue = list(range(len(items)))[::-1]

            async def worker() -> None:
                while queue:
                    await post(queue.pop())

            await asyncio.gather(*(worker() for _ in range(64)))
    expected = {user: len(times) for user, times in posted.items() if times}
    got = await replies(fake, since, expected, timeout=300)
    missing = sum(max(0, n - len(got[user])) for user, n in expected.items())
    if missing:
        raise RuntimeError(f"{target.name}: {missing} updates got no reply")
    latencies = [(got[user][k] - t) * 1000 for user, times in posted.items() for k, t in enumerate(times)]
    last = max(max(times) for times in got.values() if times)
    return len(items) / (last - started), latencies


def database(kind: str, dsn: str, folder: str) -> AbstractAsyncContextManager[Database]:
    """A fresh migrated database: a SQLite file, or a PostgreSQL database made for the run and dropped after."""
    return fresh_database(None if kind == "sqlite" else dsn, folder)


async def measure(target: Target, fake: FakeTelegram, args: argparse.Namespace, ids: Sequence[int]
                  ) -> tuple[float, list[float]]:
    users = range(1_000_000, 1_000_000 + args.users)
    try:
        await drive(target, fake, workload(args.users, ids, seed=1), users, None)  # warm-up: users exist
        throughput, _ = await drive(target, fake, workload(args.updates, ids, seed=2), users, None)
        steady = workload(int(args.rate * args.seconds), ids, seed=3)
        _, latencies = await drive(target, fake, steady, users, args.rate)
    finally:
        await target.stop()
    return throughput, latencies


async def run(args: argparse.Namespace) -> int:
    fake = FakeTelegram()
    await fake.start()
    documents = generate(args.products, bundled_documents())
    ids = [doc.id for doc in documents]
    results: dict[str, tuple[float, list[float]]] = {}
    results["PTB echo bot"] = await measure(await start_echo(fake), fake, args, ids)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            async with database(kind, args.dsn, tmp) as db:
                started = time.monotonic()
                await load_catalogue(db, documents)
                print(f"catalogue: {len(documents)} products loaded in {time.monotonic() - started:.1f}s ({kind})")
                results[f"ocop-bot {kind}"] = await measure(await start_ours(fake, db), fake, args, ids)
    await fake.stop()

    print(f"\n{args.updates} updates at saturation; {args.rate:g} updates/s for {args.seconds:g}s for latency")
    print(f"{'bot':<20} {'updates/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, (throughput, latencies) in results.items():
        print(
            f"{name:<20} {throughput:>10.0f} {percentile(latencies, 50):>8.1f} {percentile(latencies, 95):>8.1f} "
            f"{percentile(latencies, 99):>8.1f}"
        )
    echo = results["PTB echo bot"][0]
    for name, (throughput, latencies) in results.items():
        if name == "PTB echo bot":
            continue
        ratio, p95 = throughput / echo, percentile(latencies, 95)
        verdict = "PASS" if ratio >= RATIO_TARGET else "FAIL"
        print(f"\n{name} / echo ceiling: {ratio:.2f}  (target ≥ {RATIO_TARGET}, aim {RATIO_AIM})  {verdict}")
        print(f"{name} p95 at {args.rate:g} updates/s: {p95:.1f} ms  (target ≤ 100 ms)  "
              f"{'PASS' if p95 <= 100 else 'FAIL'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--updates", type=int, default=1500, help="updates for the saturation run")
    parser.add_argument("--rate", type=float, default=50.0, help="updates per second for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=300, help="distinct users (chats) sending the updates")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--dsn", default=os.environ.get("OCOP_BENCH_POSTGRES_DSN", POSTGRES_DSN))
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except Exception as error:  # the benchmark could not produce its figures
        print(f"benchmark failed: {error!r}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
