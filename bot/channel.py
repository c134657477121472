"""What every messaging-platform runtime shares: answering an update once, and draining notifications."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from aiohttp import web

from handlers.app import Conversation
from handlers.delivery import deliver_pending
from handlers.events import send_reminders
from handlers.inbox import run_due
from handlers.messages import Capabilities, Incoming
from handlers.render import Rendered
from models.people import mark_blocked
from models.stored_files import remove_expired

log = logging.getLogger(__name__)
T = TypeVar("T")
STOP_GRACE = 5.0  # seconds a loop told to stop gets to finish what it is doing (a transaction is not cut short)


async def finish(tasks: Sequence[asyncio.Task[object]], grace: float = STOP_GRACE) -> None:
    """Wait for tasks that were told to stop, then cancel what is still running after ``grace`` seconds.

    Cancelling a task in the middle of a database call can leave the driver's connection half-closed (seen with
    aiosqlite: a close that never completes); loops that are asked to stop finish their round instead."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class ChannelRuntime(ABC):
    """One platform: subclasses map platform updates to Incoming and Rendered messages to platform calls."""

    name: str
    capabilities: Capabilities

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.services = conversation.services
        self.stopping = asyncio.Event()  # set when the channel shuts down: its loops end their round and return

    async def pause(self, seconds: float) -> None:
        """Sleep, waking at once when the channel starts stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def unless_stopping(self, work: Awaitable[T]) -> T | None:
        """The result of ``work``, or None when the channel starts stopping first (``work`` is then cancelled: only
        for waits that hold no transaction, such as a long poll)."""
        job = asyncio.ensure_future(work)
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait([job, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not job.done():
                job.cancel()
            await asyncio.gather(job, stop, return_exceptions=True)
        return job.result() if not job.cancelled() else None

    @abstractmethod
    async def start(self, web_app: web.Application) -> None:
        """Connect to the platform; webhook channels add their routes to ``web_app`` (before it starts)."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect cleanly."""

    async def process(self, incoming: Incoming, update_key: str = "") -> list[Rendered] | None:
        """Handle one inbound update (None when it was a redelivery) and send the replies to its chat."""
        rendered = await self.conversation.handle(incoming, self.capabilities, update_key=update_key)
        if rendered:
            await self.send(incoming.chat_id, rendered)
        return rendered

    @abstractmethod
    async def send(self, chat_id: str, rendered: list[Rendered]) -> None:
        """Send messages to a chat; raise handlers.delivery.RecipientBlocked when the user blocked us."""

    async def mark_blocked(self, external_id: str) -> None:
        async with self.services.db.transaction() as session:
            await mark_blocked(session, self.name, external_id)

    async def deliver_notifications(self) -> int:
        return await deliver_pending(self.services, self.name, self.capabilities, self.send)

    async def pump(self, interval: float = 1.0, due_every: int = 60) -> None:
        """Until the channel stops: deliver queued notifications; now and then remind and expire old requests,
        remind event registrants the day before, and delete the files kept for links that have expired."""
        ticks = 0
        while not self.stopping.is_set():
            try:
                await self.deliver_notifications()
                if ticks % due_every == 0:
                    await run_due(self.services)
                    await send_reminders(self.services)
                    async with self.services.db.transaction() as session:
                        await remove_expired(session, self.services.clock.now())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: notification pump failed; retrying", self.name)
            ticks += 1
            await self.pause(interval)
