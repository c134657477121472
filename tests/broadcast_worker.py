"""A broadcast sender in a process of its own, built as `ocop-bot serve` builds it, for the tests that kill it.

    python -m tests.broadcast_worker DATABASE_URL TELEGRAM_BASE_URL [--schema S] [--rate R] [--in-flight N]

It logs to stderr; "this process sends the broadcasts" once it holds the sender lock.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.broadcast_sender import build_sender
from bot.config import BroadcastSettings, Settings, TelegramSettings
from models.db import Database
from tests.fake_telegram import TOKEN


async def work(args: argparse.Namespace) -> None:
    settings = Settings(
        telegram=TelegramSettings(token=TOKEN, base_url=args.base_url),  # type: ignore[arg-type]
        broadcast=BroadcastSettings(
            telegram_rate=args.rate, telegram_in_flight=args.in_flight, lock_retry_seconds=0.2, progress_seconds=0.5,
            send_timeout_seconds=2,
        ),
    )
    db = Database(args.database, schema=args.schema)
    sender = build_sender(settings, db)
    assert sender is not None
    try:
        await sender.run()
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("base_url")
    parser.add_argument("--schema")
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--in-flight", type=int, default=4)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(work(parser.parse_args()))


if __name__ == "__main__":
    main()
