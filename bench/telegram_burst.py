"""Telegram burst: many new users write at once, against a Bot API that enforces its limits.

    .venv/bin/python bench/telegram_burst.py                     # 1,000 users within 10 s, SQLite
    .venv/bin/python bench/telegram_burst.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/test

``users`` new users each send /start, spread evenly over ``seconds``, to the real Telegram channel as `serve` builds
it (long polling, inbox, conversation, outbox, the channel's pacer) on a fresh database. The fake Bot API runs in a
process of its own (bench/fake_process.py) and answers 429 like Telegram above 30 messages a second in all and to a
second message to one chat within a second.

Measured: users never answered (target 0), the time from the first message to the last user's first answer against
the ideal users ÷ 30 s (target: within 10 %), the 429s the server had to answer (our pacer should make them rare),
answers per user (duplicates). Exit status: 0 when it ran (targets may FAIL; --strict makes that 1), 2 when it could
not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import fresh_database
from bench.fake_process import FakeBotApi, Limits, Sent
from bot.channel import RecentSends, Shared
from bot.config import Settings, TelegramSettings
from bot.telegram import CHANNEL
from bot.web import make_app
from handlers.app import Conversation
from handlers.context import Services
from models.search_service import SearchService
from tests.fake_telegram import TOKEN

LIMIT, CHAT_GAP = 30.0, 1.0  # Telegram's: messages a second in all, seconds between two messages to one chat
FIRST_USER = 20_000_000
WITHIN = 0.10  # the last answer may come this much later than the ideal


def answered(calls: list[Sent], users: range) -> Counter[int]:
    return Counter(c.chat_id for c in calls if c.accepted and c.chat_id in users)


async def run(users: int, seconds: float, database: str | None) -> int:
    people = range(FIRST_USER, FIRST_USER + users)
    server = FakeBotApi(Limits(per_second=LIMIT, chat_gap=CHAT_GAP))
    url = server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_database(database, tmp) as db:
                services = Services(db=db, search=SearchService(db))
                await services.search.refresh()
                settings = Settings(telegram=TelegramSettings(token=TOKEN, base_url=f"{url}/bot", poll_timeout=1))  # type: ignore[arg-type]
                channel = CHANNEL.build(Shared(settings, Conversation(services), None, RecentSends()))
                await channel.start(make_app(services))
                running = asyncio.create_task(channel.run())
                await asyncio.wait_for(channel.connected.wait(), 30)
                cpu = time.process_time()
                server.push([(user, "/start") for user in people], seconds / users)
                first, last_pushed = await server.pushed()
                deadline = time.monotonic() + users / LIMIT * 3 + 60
                while True:
                    calls, server_cpu = server.calls()
                    got = answered(calls, people)
                    if len(got) == users or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(1.0)
                cpu = time.process_time() - cpu
                channel.stopping.set()
                await running
    finally:
        server.stop()

    first_answer: dict[int, float] = {}
    for call in calls:
        if call.accepted and call.chat_id in people and call.chat_id not in first_answer:
            first_answer[call.chat_id] = call.at
    unanswered = users - len(first_answer)
    took = max(first_answer.values()) - first if first_answer else float("inf")
    ideal = users / LIMIT
    refused = [c for c in calls if c.method.endswith("!429")]
    per_user = Counter(got.values())
    on_time = took <= ideal * (1 + WITHIN)
    print(f"{users} new users sent /start within {last_pushed - first:.1f} s "
          f"({database.split(':')[0] if database else 'sqlite'}); the Bot API allows {LIMIT:g} msg/s and "
          f"1 per {CHAT_GAP:g} s to a chat")
    print(f"  unanswered users          {unanswered:8d}  (target 0)  {'PASS' if unanswered == 0 else 'FAIL'}")
    print(f"  last first answer after   {took:8.1f} s  (ideal {ideal:.1f} s = users ÷ {LIMIT:g}; target ≤ "
          f"{ideal * (1 + WITHIN):.1f} s)  {'PASS' if on_time else 'FAIL'}")
    print(f"  429 answered by the API   {len(refused):8d}  ({sum(1 for c in refused if c.chat_id in people)} to users)")
    print(f"  messages per user         {dict(sorted(per_user.items()))}  (count of users by messages received)")
    print(f"  CPU: the bot {cpu:.1f} s ({cpu / users * 1000:.2f} ms a user), the fake server {server_cpu:.1f} s")
    return 0 if unanswered == 0 and on_time else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="the users' messages are spread over this time")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file); PostgreSQL: a fresh "
                                           "database is made on that server and dropped after")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    try:
        missed = asyncio.run(run(args.users, args.seconds, args.database))
    except Exception as error:
        traceback.print_exc()
        print(f"bench/telegram_burst.py could not complete: {error}", file=sys.stderr)
        return 2
    return missed if args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
