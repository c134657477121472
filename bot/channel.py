"""What every messaging-platform runtime shares: answering an update once, and draining notifications."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

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


class ChannelRuntime(ABC):
    """One platform: subclasses map platform updates to Incoming and Rendered messages to platform calls."""

    name: str
    capabilities: Capabilities

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.services = conversation.services

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
        """Forever: deliver queued notifications; now and then remind and expire old requests, remind event
        registrants the day before, and delete the files kept for links that have expired."""
        ticks = 0
        while True:
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
            await asyncio.sleep(interval)
