"""What every messaging-platform runtime shares: updates stored before they are acknowledged and handled chat by
chat, messages sent from the outbox, notifications taken into it, stopping cleanly; and what a channel module
declares (``ChannelSpec``) for the registry (bot/channels.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.config import Settings
from bot.group_commit import GroupCommit
from bot.inbox_worker import InboxWorker, Prepared
from bot.links import LinkSigner
from bot.outbox_sender import OutboxSender
from bot.pacing import Pacer
from bot.retry import ChannelUnavailable, RetryPolicy, Stopped, Throttled
from bot.stopping import Stoppable, finish
from handlers.app import Conversation
from handlers.delivery import channel_stopped, queue_notifications
from handlers.messages import Capabilities
from handlers.render import Rendered
from models import inbox
from models.inbox import Received

if TYPE_CHECKING:  # the broadcast sender builds lanes from the channel modules, which import this one
    from bot.broadcast_sender import Lane

log = logging.getLogger(__name__)


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
    pacers: dict[str, Pacer] = field(default_factory=dict)  # per channel: its replies and its broadcast lane share it

    def pacer(self, channel: str, make: Callable[[], Pacer]) -> Pacer:
        """The channel's pacer in this process (made on first use)."""
        if channel not in self.pacers:
            self.pacers[channel] = make()
        return self.pacers[channel]


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
    lane_always: bool = False  # its lane needs no platform (the console: terminals read the database): every
    # broadcast sender runs it, whether the channel is configured or not


def never(_settings: Settings) -> bool:
    """For channels that ``serve`` does not start (the console: ``ocop-bot chat`` runs it in a terminal)."""
    return False


class ChannelRuntime(Stoppable, ABC):
    """One platform: subclasses turn what the platform sends into ``Incoming`` and rendered messages into platform
    calls; everything between is the same for every channel.

    Its life: ``start`` (the webhook routes go on the web app; nothing leaves the machine), then ``run``: ``connect``
    (tried again while the platform cannot be reached; refused credentials stop the channel with one log line),
    then until ``stopping`` is set or a loop ends: the inbox worker (stored updates → handled, replies → outbox), the
    outbox sender, the notification pump (notifications → outbox) and the channel's own loops; then ``stop``.
    Updates come in through ``receive``: stored in the inbox first, so that the platform is told we have them only
    once we do. Periodic work that is not about one channel is the process's housekeeping (bot/housekeeping.py)."""

    name: str
    capabilities: Capabilities
    connect_policy = RetryPolicy(first=1.0, maximum=60.0)

    def __init__(self, conversation: Conversation, *, pacer: Pacer | None = None,
                 sends: RecentSends | None = None) -> None:
        super().__init__()
        self.conversation = conversation
        self.services = conversation.services
        self.pacer = pacer
        self.sends = sends  # counted for the broadcast lane to give way to
        self.refused = asyncio.Event()  # the platform refused our credentials: stopped until a person fixes them
        self.connected = asyncio.Event()  # connect() succeeded: the inbox and the outbox are running
        self.pumped = 0  # rounds of the notification pump (tests wait on it)
        self.admins_told: asyncio.Task[None] | None = None  # the admins being told that the channel stopped
        self.ended: str = ""  # why ``run`` ended on its own: a fixed word for /readyz and /metrics, never a secret

    @cached_property
    def _stored(self) -> GroupCommit[Received]:
        async def store(batch: Sequence[Received]) -> None:
            self.inbox.remember(await inbox.receive(self.services.db, self.name, batch, self.services.clock.now()))

        return GroupCommit(store)

    @cached_property
    def inbox(self) -> InboxWorker:
        worker = InboxWorker(self.conversation, self.name, lambda: self.capabilities, self.prepare,
                             on_handled=self.outbox.kick)
        worker.stopping = self.stopping
        return worker

    @cached_property
    def outbox(self) -> OutboxSender:
        sender = OutboxSender(self.services, self.name, self.send_one, on_refused=self.refuse)
        sender.stopping = self.stopping
        return sender

    async def start(self, web_app: web.Application) -> None:
        """Add the channel's webhook routes to ``web_app`` (before it starts)."""

    async def connect(self) -> None:
        """Reach the platform (check the credentials, register the webhook…); raise ``TryLater`` while it cannot be
        reached, ``ChannelUnavailable`` when it refuses us."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect cleanly."""

    def workers(self) -> list[Awaitable[None]]:
        """The inbox worker and the outbox sender."""
        return [self.inbox.run(), self.outbox.run()]

    def loops(self) -> list[Awaitable[None]]:
        """What runs besides the inbox, the outbox and the pump (a polling loop, a token refresher); when one ends,
        the channel stops."""
        return []

    @abstractmethod
    async def prepare(self, payload: dict[str, Any]) -> Prepared | None:
        """What a stored update asks of us (None: nothing, e.g. the bot's own message), ready to be handled."""

    @abstractmethod
    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        """Send one message; raise what bot/retry.py names when it could not be sent."""

    async def send(self, chat_id: str, rendered: list[Rendered]) -> None:
        """Send messages at once, outside the outbox (the console)."""
        for part in rendered:
            await self.send_one(chat_id, part, {})

    async def receive(self, updates: list[Received]) -> None:
        """Store updates in the inbox (raises when the database cannot take them: the platform must not be told we
        have them), then have them handled."""
        await self._stored.put(updates)
        self.services.metrics.updates_received.labels(self.name).inc(len(updates))
        for update in updates:
            self.inbox.kick(update.chat_id)

    def state(self) -> tuple[str, str]:
        """(state, reason) for /readyz and /metrics: ("starting", "connecting") until connected, ("running", "")
        while it works, then ("stopped", why): "credentials_refused", "loop_ended" (a loop of the channel ended on
        its own) or "shut_down" (the process is stopping)."""
        if self.refused.is_set():
            return "stopped", "credentials_refused"
        if self.stopping.is_set():
            return "stopped", self.ended or "shut_down"
        if self.connected.is_set():
            return "running", ""
        return "starting", "connecting"

    def count_retry(self, error: BaseException) -> None:
        """A call to the platform failed and is tried again (``RetryPolicy.call``'s ``on_retry``)."""
        self.services.metrics.retried(self.name, isinstance(error, Throttled))

    def refuse(self, what: str) -> None:
        """The platform refused our credentials: nothing will work until a person fixes the configuration; the
        channel stops (``run`` ends), what was not sent stays in the outbox."""
        if not self.refused.is_set():
            log.error("%s: %s; the channel is stopped", self.name, what)
            self.refused.set()
            self.stopping.set()
            self.admins_told = asyncio.create_task(self._tell_admins(what))

    async def _tell_admins(self, what: str) -> None:
        try:
            await channel_stopped(self.services, self.name, what)
        except Exception:
            log.exception("%s: could not tell the admins that the channel stopped", self.name)

    def check_usable(self) -> None:
        if self.refused.is_set():
            raise ChannelUnavailable(f"{self.name} is stopped: its credentials were refused")

    async def run(self, pump_interval: float = 1.0) -> None:
        """Connect, then the inbox, the outbox, the pump and the channel's loops until ``stopping`` is set, the task
        is cancelled or one of the loops ends; then they finish their round and the channel is stopped."""
        try:
            if await self._connect():
                self.connected.set()
                jobs = [asyncio.create_task(job) for job in
                        (*self.workers(), self.pump(pump_interval), *self.loops())]
                stop = asyncio.create_task(self.stopping.wait())
                try:
                    await asyncio.wait([stop, *jobs], return_when=asyncio.FIRST_COMPLETED)
                    if not self.stopping.is_set():
                        self.ended = "loop_ended"
                finally:
                    self.stopping.set()
                    await finish([stop, *jobs])
        finally:
            self.stopping.set()
            if self.admins_told is not None:
                await asyncio.wait([self.admins_told], timeout=5)
            await self.stop()

    async def _connect(self) -> bool:
        """``connect`` until it works; False when refused, or stopped first."""
        try:
            await self.connect_policy.call(self.connect, what=f"{self.name}: connecting", stopping=self.stopping,
                                           on_retry=self.count_retry)
        except ChannelUnavailable as error:
            self.refuse(str(error))
            return False
        except Stopped:
            return False
        return True

    async def idle(self) -> None:
        """Wait until what this process was given is handled and sent (tests and benchmarks)."""
        while True:
            await self.inbox.drained()
            await self.outbox.drained()
            if self.inbox.is_idle() and self.outbox.is_idle():
                return

    async def pump(self, interval: float = 1.0) -> None:
        """Until the channel stops: the notifications for its users into its outbox."""
        while not self.stopping.is_set():
            try:
                for chat_id in await queue_notifications(self.services, self.name, self.capabilities):
                    self.outbox.kick(chat_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: notification pump failed; retrying", self.name)
            self.pumped += 1
            await self.pause(interval)
