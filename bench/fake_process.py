"""The loopback fake Bot API (tests/fake_telegram.py) in a process of its own, for benchmarks: the bot measured and
the server it talks to do not share a CPU core, and the server enforces Telegram's limits (messages a second in all,
a gap between two messages to one chat) by answering 429 as Telegram does.

The benchmark drives it through a pipe: users' messages are queued for getUpdates at a given pace (in the server's
process, so the pace does not depend on the bot's load), and at the end every call the server got is reported.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


@dataclass(frozen=True)
class Limits:
    per_second: float | None = None  # 429 above this many sends and edits a second in all
    chat_gap: float | None = None  # 429 to a second message to one chat within this many seconds
    blocked: Sequence[int] = ()  # chats whose user blocked the bot (403)
    throttled: Sequence[int] = ()  # chats whose first send gets a 429 with retry_after 1


@dataclass(frozen=True)
class Sent:
    """A call the server got: its method ("sendMessage!429" when refused), chat, and when (the server's clock)."""

    method: str
    chat_id: int | None
    at: float
    text: str = ""

    @property
    def accepted(self) -> bool:
        return self.method.startswith(("send", "edit")) and "!" not in self.method


def _serve(conn: Connection, limits: Limits) -> None:
    from tests.fake_telegram import FakeTelegram  # imported in the child: the parent may not need aiohttp's server

    async def main() -> None:
        fake = FakeTelegram()
        fake.flood_limit_per_second = limits.per_second
        fake.chat_gap_seconds = limits.chat_gap
        fake.blocked = set(limits.blocked)
        for chat in limits.throttled:
            fake.throttle_chat[chat] = [1]
        await fake.start()
        conn.send(fake.url)
        loop = asyncio.get_running_loop()
        pushing: list[asyncio.Task[None]] = []
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "push":  # [(user_id, text)], seconds between two
                pushing.append(asyncio.create_task(_push(fake, *argument, conn)))
            elif command == "report":
                calls = [Sent(c.method, c.chat_id, c.at, c.text) for c in fake.calls
                         if c.method.startswith(("send", "edit"))]
                conn.send((calls, time.process_time()))
            elif command == "stop":
                break
        for task in pushing:
            task.cancel()
        await fake.stop()

    asyncio.run(main())


async def _push(fake: Any, messages: list[tuple[int, str]], spacing: float, conn: Connection) -> None:
    started = time.monotonic()
    for i, (user, text) in enumerate(messages):
        await asyncio.sleep(max(0.0, started + i * spacing - time.monotonic()))
        await fake.push(fake.message_update(user, text))
    conn.send(("pushed", started, time.monotonic()))


class FakeBotApi:
    """Start with ``start()`` (its URL), queue messages with ``push``, read every call with ``calls``."""

    def __init__(self, limits: Limits) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, limits), daemon=True)

    def start(self) -> str:
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError("the fake Bot API did not start")
        return str(self.conn.recv())

    def push(self, messages: list[tuple[int, str]], spacing: float) -> None:
        """Queue ``messages`` (user id, text) for getUpdates, one every ``spacing`` seconds from now; ``pushed``
        waits until the last is queued."""
        self.conn.send(("push", (messages, spacing)))

    async def pushed(self) -> tuple[float, float]:
        """(first, last) queueing times on the server's monotonic clock (the same clock as ``Sent.at``)."""
        message = await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        _, first, last = message
        return first, last

    def calls(self) -> tuple[list[Sent], float]:
        """Every send and edit the server got, and the CPU seconds it used so far."""
        self.conn.send(("report", None))
        calls, cpu = self.conn.recv()
        return calls, cpu

    def stop(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(10)
