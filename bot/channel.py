"""What every messaging-platform runtime shares: stopping cleanly, answering an update once, draining its users'
notifications; and what a channel module declares (``ChannelSpec``) for the registry (bot/channels.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web

from bot.config import Settings
from bot.links import LinkSigner
from handlers.app import Conversation
from handlers.delivery import deliver_pending
from handlers.messages import Capabilities, Incoming
from handlers.render import Rendered
from models.people import mark_blocked

if TYPE_CHECKING:  # the broadcast sender builds lanes from the channel modules, which import this one
    from bot.broadcast_sender import Lane

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


class Stoppable:
    """Something whose loops run until told to stop (``stopping``): they end their round and return, and are not
    cancelled in the middle of a database call."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()  # set to stop: the loops end their round and return

    async def pause(self, seconds: float) -> None:
        """Sleep, waking at once when stopping starts."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def unless_stopping(self, work: Awaitable[T]) -> T | None:
        """The result of ``work``, or None when stopping starts first (``work`` is then cancelled: only for waits
        that hold no transaction, such as a long poll)."""
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


class RecentSends:
    """Messages the interactive channels sent in the last second, for the broadcast sender to give way to."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def add(self) -> None:
        self._times.append(time.monotonic())

    def per_second(self) -> int:
        horizon = time.monotonic() - 1.0
        while self._times and self._times[0] < horizon:
            self._times.popleft()
        return len(self._times)


@dataclass(frozen=True)
class Shared:
    """What a channel is built from besides its own section of the settings; one of each per process."""

    settings: Settings
    conversation: Conversation
    signer: LinkSigner | None  # signs download links ([web] secret and public_url); None when not configured
    replies: RecentSends  # the replies sent by this process, counted for the broadcast sender to give way to


@dataclass(frozen=True)
class ChannelSpec:
    """A channel module's declaration, its module-level ``CHANNEL``: the registry (bot/channels.py) finds it, and
    nothing else in the program names the channel. Its capabilities, start/stop, inbound mapping and send are the
    runtime's (a ``ChannelRuntime`` subclass); its labels are ``channel.<name>`` in handlers/locales/*.po."""

    name: str  # Incoming.channel and Identity.channel: "telegram"
    section: str  # its section of the config ("zalo.bot" is [zalo.bot]); "" when it has none
    enabled_by: str  # the key that turns it on, for messages ("telegram.token"); "" when serve never starts it
    configured: Callable[[Settings], bool]  # serve() starts it when true
    admins: str  # the key of [admins] listing its admins' user ids (both Zalo channels read "zalo")
    build: Callable[[Shared], ChannelRuntime]  # the runtime, not started
    broadcast: Callable[[Shared], Lane] | None = None  # its broadcast lane (transport and limits); None: no broadcasts


def never(_settings: Settings) -> bool:
    """For channels that ``serve`` does not start (the console: ``ocop-bot chat`` runs it in a terminal)."""
    return False


class ChannelRuntime(Stoppable, ABC):
    """One platform: subclasses map platform updates to Incoming and Rendered messages to platform calls.

    Its life: ``start`` (connect; webhook routes go on the web app), then ``run`` (the notification pump and its
    own loops, until ``stopping`` is set or a loop ends; then ``stop``: disconnect). Periodic work that is not about one
    channel (reminders, expiry, sweeps) is the process's housekeeping (bot/housekeeping.py), not the pump's."""

    name: str
    capabilities: Capabilities

    def __init__(self, conversation: Conversation) -> None:
        super().__init__()
        self.conversation = conversation
        self.services = conversation.services

    @abstractmethod
    async def start(self, web_app: web.Application) -> None:
        """Connect to the platform; webhook channels add their routes to ``web_app`` (before it starts)."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect cleanly."""

    def loops(self) -> list[Awaitable[None]]:
        """What runs besides the pump (a polling loop, a token refresher); when one ends, the channel stops."""
        return []

    async def run(self, pump_interval: float = 1.0) -> None:
        """The pump and the channel's loops until ``stopping`` is set, the task is cancelled or one of the loops
        ends (the platform refused us, the input ended); then they finish their round and the channel is stopped."""
        jobs = [asyncio.create_task(self.pump(pump_interval)), *(asyncio.create_task(loop) for loop in self.loops())]
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait([stop, *jobs], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.stopping.set()
            await finish([stop, *jobs])
            await self.stop()

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

    async def pump(self, interval: float = 1.0) -> None:
        """Until the channel stops: deliver the notifications queued for its users."""
        while not self.stopping.is_set():
            try:
                await self.deliver_notifications()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: notification pump failed; retrying", self.name)
            await self.pause(interval)
