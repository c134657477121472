"""The console channel: a terminal chat on the local database, buttons shown as numbered options.

Several terminals with different ``--user`` names play buyer, producer and office against one SQLite file;
notifications reach each terminal through the database outbox. Input is read line by line, so it can be scripted.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from handlers.app import Conversation
from handlers.context import Services
from handlers.delivery import deliver_pending
from handlers.events import send_reminders
from handlers.inbox import run_due
from handlers.memos import load_document
from handlers.messages import CONSOLE, Incoming
from handlers.render import Rendered

CHANNEL = "console"
POLL_SECONDS = 1.0


class ConsoleChat:
    def __init__(
        self, services: Services, user: str, out: TextIO = sys.stdout, documents: Path = Path("data/documents")
    ) -> None:
        self.services = services
        self.conversation = Conversation(services)
        self.user = user
        self.out = out
        self.documents = documents

    async def send(self, **kw: object) -> None:
        incoming = Incoming(channel=CHANNEL, user_id=self.user, chat_id=self.user, display_name=self.user, **kw)  # type: ignore[arg-type]
        await self.show(await self.conversation.handle(incoming, CONSOLE))

    async def show(self, rendered: list[Rendered]) -> None:
        for message in rendered:
            self.out.write(f"\n{message.text}\n")
            if message.document is not None:
                name, data = await load_document(self.services.db, message.document, self.services.memo_place)
                self.documents.mkdir(parents=True, exist_ok=True)
                path = self.documents / name
                path.write_bytes(data)
                self.out.write(f"[{path}]\n")
        self.out.flush()

    async def deliver(self) -> None:
        async def show(_chat: str, rendered: list[Rendered]) -> None:
            await self.show(rendered)

        await deliver_pending(self.services, CHANNEL, CONSOLE, show, external_id=self.user)

    async def run(self, lines: TextIO, *, begin_as: str | None = None) -> None:
        self.out.write(f"ocop-bot — {self.user}. /help for help, a number picks an option, Ctrl-D quits.\n")
        await self.deliver()
        if begin_as in {"buyer", "producer"}:
            await self.send(text="/start")
            await self.send(action="lang:vi")
            await self.send(action=f"role:{begin_as}")
        poller = asyncio.create_task(self._poll())
        try:
            loop = asyncio.get_running_loop()
            while line := await loop.run_in_executor(None, lines.readline):
                if line.strip():
                    await self.send(text=line.rstrip("\n"))
                    await self.deliver()
        finally:
            poller.cancel()
            await self.deliver()

    async def _poll(self) -> None:
        """Show notifications as they arrive and run reminders/expiry while the chat is open."""
        ticks = 0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self.deliver()
            ticks += 1
            if ticks % 60 == 0:
                await run_due(self.services)
                await send_reminders(self.services)


def console_services(services: Services, user: str, as_admin: bool) -> Services:
    if not as_admin:
        return services
    admins = dict(services.admin_ids)
    admins[CHANNEL] = admins.get(CHANNEL, frozenset()) | {user}
    return replace(services, admin_ids=admins)
