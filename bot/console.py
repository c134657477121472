"""The console channel: a terminal chat on the local database, buttons shown as numbered options.

Several terminals with different ``--user`` names play buyer, producer and office against one SQLite file;
notifications reach each terminal through the database outbox and the channel's pump, as on the other channels.
Broadcasts too: the console's broadcast lane (``ConsoleTransport``, run by every broadcast sender, including the one
each terminal runs) writes them to the recipient's outbox, and their terminal shows them within a second. (With
SQLite there is no sender lock: two terminals whose senders pick the same recipient at the same moment may both
write it.)
Input is read line by line, so it can be scripted; the chat ends with the input (Ctrl-D). Files (memos, exports,
charts) are saved to data/documents/. ``serve`` never starts it: ``ocop-bot chat`` does, and ``ocop-bot run`` when
no other channel is configured.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import Transport
from bot.channel import ChannelRuntime, ChannelSpec, Shared, never
from handlers import outgoing
from handlers.actions import Answer
from handlers.app import Conversation
from handlers.context import Services
from handlers.delivery import queue_notifications
from handlers.memos import load_document
from handlers.messages import CONSOLE, Attachment, Incoming
from handlers.render import Rendered
from models import outbox
from models.stored_files import StoredFile

CHANNEL_NAME = "console"
DOCUMENTS = Path("data/documents")
BROADCAST_RATE = 200.0  # messages a second written to terminals' outboxes (the database is the only limit)
BROADCAST_IN_FLIGHT = 10

# `ocop-bot chat --as buyer|producer`: what the terminal says first — /start, then the answer to its first question
# (the role), as the button would.
START = "/start"
BEGIN_AS: dict[str, tuple[str, ...]] = {
    role: (Answer("onboard", "role", role).encode(),) for role in ("buyer", "producer")
}


def default_user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "guest"


class ConsoleChannel(ChannelRuntime):
    """One person at a terminal: ``user`` is their id on the console channel (and their chat)."""

    name = CHANNEL_NAME
    capabilities = CONSOLE

    def __init__(
        self,
        conversation: Conversation,
        user: str,
        *,
        lines: TextIO = sys.stdin,
        out: TextIO = sys.stdout,
        documents: Path = DOCUMENTS,
        begin_as: str | None = None,
    ) -> None:
        super().__init__(conversation)
        self.user = user
        self.lines = lines
        self.out = out
        self.documents = documents
        self.begin_as = begin_as

    async def start(self, web_app: web.Application | None = None) -> None:  # type: ignore[override]
        """Greet the user (there is no route to add)."""
        self.out.write(f"ocop-bot — {self.user}. /help for help, a number picks an option, Ctrl-D quits.\n")
        self.out.flush()

    async def stop(self) -> None:
        self.out.flush()

    def loops(self) -> list[Awaitable[None]]:
        return [self.read()]

    async def read(self) -> None:
        """What waited for this user, then the ``--as`` start, then each line typed (its replies, then what came
        for the user meanwhile) until the input ends."""
        await self.deliver_notifications()
        if self.begin_as in BEGIN_AS:
            await self.says(text=START)
            for action in BEGIN_AS[self.begin_as]:
                await self.says(action=action)
        loop = asyncio.get_running_loop()
        while line := await self.unless_stopping(loop.run_in_executor(None, self.lines.readline)):
            if line.strip():
                await self.says(text=line.rstrip("\n"))
                await self.deliver_notifications()
        await self.deliver_notifications()

    async def says(self, **what: Any) -> list[Rendered] | None:
        """The user typed ``text`` (or pressed ``action``): the replies are shown at once."""
        incoming = Incoming(channel=self.name, user_id=self.user, chat_id=self.user, display_name=self.user, **what)
        rendered = await self.conversation.handle(incoming, self.capabilities)
        if rendered:
            await self.send(self.user, rendered)
        return rendered

    async def prepare(self, payload: dict[str, Any]) -> None:
        return None  # nothing is stored for the console: it reads its terminal

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        self.out.write(f"\n{part.text}\n")
        if part.document is not None:
            if isinstance(part.document, Attachment):
                name, data = part.document.filename, part.document.data
            else:
                name, data = await load_document(self.services.db, part.document, self.services.memo_place)
            self.documents.mkdir(parents=True, exist_ok=True)
            path = self.documents / Path(name).name
            path.write_bytes(data)
            self.out.write(f"[{path}]\n")
        self.out.flush()

    def workers(self) -> list[Awaitable[None]]:
        return []  # its input is the terminal, and it shows its own user's messages only (deliver_notifications)

    async def pump(self, interval: float = 1.0) -> None:
        while not self.stopping.is_set():
            await self.deliver_notifications()
            await self.pause(interval)

    async def deliver_notifications(self) -> None:
        """This terminal's user only: the other console users read theirs in their own terminals."""
        await queue_notifications(self.services, self.name, self.capabilities, external_id=self.user)
        await self.outbox.drain(self.user)


def console_services(services: Services, user: str, as_admin: bool) -> Services:
    """``--as admin``: the user is a console admin for this run."""
    if not as_admin:
        return services
    admins = dict(services.admin_ids)
    admins[CHANNEL_NAME] = admins.get(CHANNEL_NAME, frozenset()) | {user}
    return replace(services, admin_ids=admins)


class ConsoleTransport(Transport):
    """Broadcasts to console users: each message written to the user's chat in the outbox, which their terminal
    drains (``ConsoleChannel.deliver_notifications``), as it does their notifications."""

    channel = CHANNEL_NAME

    def __init__(self, services: Services) -> None:
        self.services = services

    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        link = photo if isinstance(photo, str) else ""  # a picture kept for it cannot be shown in a terminal
        part = Rendered(f"{text}\n{link}" if link else text)
        now = self.services.clock.now()
        async with self.services.db.transaction() as session:
            message_id = await outbox.add(session, CHANNEL_NAME, chat_id, await outgoing.encode(session, part, now),
                                          now=now)
        return str(message_id)


def broadcast_lane(shared: Shared) -> Lane:
    return Lane(ConsoleTransport(shared.conversation.services), SendRate(BROADCAST_RATE, interactive=shared.replies),
                BROADCAST_IN_FLIGHT)


CHANNEL = ChannelSpec(
    name=CHANNEL_NAME,
    section="",  # nothing to configure but its admins
    enabled_by="",
    configured=never,  # a terminal of its own: `ocop-bot chat`
    admins="console",
    build=lambda shared: ConsoleChannel(shared.conversation, default_user()),
    broadcast=broadcast_lane,
    lane_always=True,
)
