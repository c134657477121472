"""The outbox sender of one channel: every chat's messages in the order they were written, one chat by one process
at a time (the chat's lease, models/outbox.py); the channel keeps its sends within the platform's limits
(bot/pacing.py).

A message is marked sent once the platform accepted it; a crash between the two sends it again after the restart
(at least once: the platforms give us no way to ask whether a message arrived). Throttled and failed sends wait and
are tried again — a 429's retry_after, otherwise a backoff (bot/retry.py) — for as long as the chat can be reached;
a blocked chat, an unreachable one (Zalo OA's 7 days) and a message the platform refuses as malformed are recorded
and given up; refused credentials stop the channel with what was not sent left in the outbox. Waits and leases
run on the wall clock (they pace real networks); what the messages say runs on ``Services.clock``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.chat_work import ChatWork
from bot.logs import log_context
from bot.retry import (
    DEFAULT,
    ChannelUnavailable,
    RecipientBlocked,
    RecipientUnreachable,
    RetryPolicy,
    SendFailed,
    Throttled,
    TryLater,
)
from handlers import outgoing
from handlers.context import Services
from handlers.delivery import blocked, refused, unreachable
from handlers.render import Rendered
from models import outbox
from models.db import utcnow
from models.metrics import NOTIFICATION, REPLY

log = logging.getLogger(__name__)
SendOne = Callable[[str, Rendered, dict[str, Any]], Awaitable[None]]
MARK_EVERY = 0.02  # seconds between the writes that mark messages sent (one transaction for all sent meanwhile)
BATCH = 20  # messages of a chat read at once
LEASE_BUSY_RETRY = 0.25  # seconds before asking again for a chat another process is sending to
MADE_AT = "made_at"  # in the context a message is sent with: when it was written to the outbox (its reply's time)


class OutboxSender(ChatWork):
    def __init__(
        self,
        services: Services,
        channel: str,
        send: SendOne,
        *,
        policy: RetryPolicy = DEFAULT,
        in_flight: int = 64,
        scan_every: float = 1.0,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(in_flight, scan_every)
        self.name = f"{channel} sender"
        self.services = services
        self.channel = channel
        self.send = send
        self.policy = policy
        self.on_refused = on_refused or (lambda _why: None)
        self.owner = uuid.uuid4().hex  # this process, for the chats' leases
        self.leased = not services.db.is_sqlite  # SQLite serves one process: nobody to share the chats with
        self.sent = 0  # messages the platform accepted (tests and logs)
        self._to_mark: list[int] = []  # sent, not yet marked in the database
        self._marking_lock = asyncio.Lock()
        self._marking: asyncio.Task[None] | None = None

    async def scan(self) -> list[str]:
        async with self.services.db.session() as session:
            return await outbox.due_chats(session, self.channel, utcnow())

    async def work(self, chat_id: str) -> None:
        db, now = self.services.db, utcnow()
        if self.leased and not await outbox.take_lease(db, self.channel, chat_id, self.owner, now):
            self.kick(chat_id, after=LEASE_BUSY_RETRY)  # another process is sending this chat's messages
            return
        try:
            await self._send_chat(chat_id)
        finally:
            if self.leased:  # marked sent with the release: before another process may take the chat
                async with self._marking_lock:
                    ids = list(self._to_mark)
                    await outbox.release_lease(db, self.channel, chat_id, self.owner, sent=ids,
                                               now=self.services.clock.now())
                    self._marked(ids)

    async def drain(self, chat_id: str) -> None:
        """Send the chat's messages now, in this task, and mark them sent (the console, tests)."""
        await self.work(chat_id)
        await self._flush_marks()

    async def _send_chat(self, chat_id: str) -> None:
        """The chat's messages, a batch at a time. Messages written after the batch was read come with a kick of
        their own (this process), or are found by the next scan (another process): the round ends with its batch."""
        db, clock = self.services.db, self.services.clock
        renewed = utcnow()
        while not self.stopping.is_set():
            async with db.session() as session:
                batch = await outbox.next_messages(session, self.channel, chat_id, skip=self._to_mark, limit=BATCH)
                parts = [await outgoing.decode(session, message.body, clock.now()) for message in batch]
            for message, part in zip(batch, parts, strict=True):
                now = utcnow()
                if message.not_before is not None and message.not_before > now:
                    self.kick(chat_id, after=(message.not_before - now).total_seconds())
                    return
                if self.leased and now - renewed > outbox.LEASE / 3:
                    if not await outbox.take_lease(db, self.channel, chat_id, self.owner, now):
                        return
                    renewed = now
                if not await self._send_one(chat_id, message, part):
                    return
            if len(batch) < BATCH:
                return

    async def _send_one(self, chat_id: str, message: outbox.Pending, part: Rendered) -> bool:
        """Send one message and record what happened; whether the chat's next message may follow now."""
        assert message.id is not None
        metrics = self.services.metrics
        kind = REPLY if message.notification_id is None else NOTIFICATION
        try:
            with log_context(channel=self.channel, chat_id=chat_id, message_id=message.id):
                await self.send(chat_id, part, {**message.context, MADE_AT: message.created_at})
        except Throttled as error:
            metrics.retried(self.channel, throttled=True)
            await self._later(chat_id, message, self.policy.delay(message.attempts, error.retry_after), error)
            return False
        except TryLater as error:
            metrics.retried(self.channel, throttled=False)
            await self._later(chat_id, message, self.policy.delay(message.attempts), error)
            return False
        except SendFailed as error:
            metrics.messages_failed.labels(self.channel, kind, "refused").inc()
            await refused(self.services, self.channel, chat_id, message, str(error), error.reference)
            self.kick(chat_id)  # the apology written for it comes after this round's batch
            return True
        except RecipientBlocked as error:
            metrics.messages_failed.labels(self.channel, kind, "blocked").inc()
            await blocked(self.services, self.channel, chat_id, str(error))
            return False
        except RecipientUnreachable as error:
            metrics.messages_failed.labels(self.channel, kind, "unreachable").inc()
            await unreachable(self.services, self.channel, chat_id, str(error))
            return False
        except ChannelUnavailable as error:
            self.on_refused(str(error))
            self.stopping.set()
            return False
        except Exception as error:  # a bug of ours or a surprise from a library: not the message's fault
            log.exception("%s: sending message %s to %s failed", self.channel, message.id, chat_id,
                          extra={"channel": self.channel, "chat_id": chat_id, "message_id": message.id})
            metrics.retried(self.channel, throttled=False)
            await self._later(chat_id, message, self.policy.delay(message.attempts), error)
            return False
        self.sent += 1
        metrics.messages_sent.labels(self.channel, kind).inc()
        self._mark(message.id)
        return True

    async def _later(self, chat_id: str, message: outbox.Pending, wait: float, error: BaseException) -> None:
        assert message.id is not None
        at = utcnow() + timedelta(seconds=wait)
        await outbox.retry_later(self.services.db, message.id, at, f"{type(error).__name__}: {error}")
        self.kick(chat_id, after=wait)

    # -- marking sent in batches ---------------------------------------------------------------------------------

    def _mark(self, message_id: int) -> None:
        self._to_mark.append(message_id)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_soon())

    async def _mark_soon(self) -> None:
        await asyncio.sleep(MARK_EVERY)
        await self._flush_marks()

    async def _flush_marks(self) -> None:
        """Mark what was sent; until then the sent messages are skipped by this process."""
        async with self._marking_lock:
            while self._to_mark:
                ids = list(self._to_mark)
                try:
                    await outbox.mark_sent(self.services.db, ids, self.services.clock.now())
                except Exception as error:
                    log.warning("%s: could not mark %d message(s) sent (%s); trying again", self.channel, len(ids),
                                error)
                    await asyncio.sleep(1.0)
                    continue
                self._marked(ids)

    def _marked(self, ids: list[int]) -> None:
        done = set(ids)
        self._to_mark = [i for i in self._to_mark if i not in done]

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self._flush_marks()
