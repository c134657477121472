"""The inbox worker of one channel: the stored updates of each chat handled in the order they came, one at a time
across processes (the chat's row lock, models/conversation.py ``load_state``), their replies written to the outbox
in the same transaction (handlers/app.py ``Conversation.handle_stored``).

What the platform sent is turned into an ``Incoming`` by the channel (``prepare``: parsing, and fetching the file
or picture a user sent) before the transaction starts. A handling that fails before it commits (the database is
away) is tried again after a backoff; after ``MAX_ATTEMPTS`` the update is given up with its error on its row, so
that one poisonous update cannot hold its chat for ever.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.chat_work import ChatWork
from bot.logs import log_context
from bot.retry import DEFAULT, RetryPolicy
from handlers.app import Arrange, Conversation, as_they_are
from handlers.messages import Capabilities, Incoming
from models import inbox

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Prepared:
    """An update ready to be handled: what the user did, and how its replies are laid out for the platform."""

    incoming: Incoming
    arrange: Arrange = field(default=as_they_are)


Prepare = Callable[[dict[str, Any]], Awaitable[Prepared | None]]


class InboxWorker(ChatWork):
    def __init__(
        self,
        conversation: Conversation,
        channel: str,
        capabilities: Callable[[], Capabilities],
        prepare: Prepare,
        *,
        on_handled: Callable[[str], None] = lambda _chat: None,
        policy: RetryPolicy = DEFAULT,
        in_flight: int = 8,
        scan_every: float = 1.0,
    ) -> None:
        super().__init__(in_flight, scan_every)
        self.name = f"{channel} inbox"
        self.conversation = conversation
        self.services = conversation.services
        self.channel = channel
        self.capabilities = capabilities
        self.prepare = prepare
        self.on_handled = on_handled
        self.policy = policy
        self.handled = 0  # updates handled by this process (tests and logs)
        self.processed = 0  # updates this process is done with: handled, needing no answer, or given up
        self._known: dict[str, deque[inbox.Waiting]] = {}  # chat -> updates stored here, not handled yet
        self._drained: set[str] = set()  # chats whose updates stored here were all handled (no need to look again)

    async def scan(self) -> list[str]:
        async with self.services.db.session() as session:
            return await inbox.waiting_chats(session, self.channel)

    def remember(self, stored: list[inbox.Waiting]) -> None:
        """Updates this process just stored: handled from memory, without reading them back."""
        for update in stored:
            self._known.setdefault(update.chat_id, deque()).append(update)

    async def _next(self, chat_id: str) -> inbox.Waiting | None:
        known = self._known.get(chat_id)
        if known:
            return known[0]
        self._known.pop(chat_id, None)
        async with self.services.db.session() as session:
            return await inbox.next_update(session, self.channel, chat_id)

    def _forget(self, chat_id: str, update: inbox.Waiting, *, all_of_chat: bool = False) -> None:
        known = self._known.get(chat_id)
        if known and (all_of_chat or known[0].id != update.id):
            del self._known[chat_id]
        elif known:
            known.popleft()
            if not known:
                del self._known[chat_id]
                self._drained.add(chat_id)

    async def work(self, chat_id: str) -> None:
        while not self.stopping.is_set():
            if chat_id in self._drained:
                self._drained.discard(chat_id)  # what it stored is handled; what others stored, the scan finds
                return
            update = await self._next(chat_id)
            if update is None:
                return
            with log_context(channel=self.channel, chat_id=chat_id, update_id=update.update_key):
                if not await self._handle(chat_id, update):
                    return

    async def _handle(self, chat_id: str, update: inbox.Waiting) -> bool:
        """Handle one stored update; whether the chat's next may follow now (False: it is tried again later)."""
        db, metrics = self.services.db, self.services.metrics
        started = time.perf_counter()
        try:
            prepared = await self.prepare(update.payload)
            if prepared is None:
                await inbox.mark_handled(db, update.id, self.services.clock.now())
                self._forget(chat_id, update)
                self.processed += 1
                metrics.updates_handled.labels(self.channel, "ignored").inc()
                return True
            done = await self.conversation.handle_stored(update.id, prepared.incoming, self.capabilities(),
                                                         prepared.arrange)
        except Exception as error:
            self._forget(chat_id, update, all_of_chat=True)  # read again from the database next time
            attempts = update.attempts + 1
            give_up = attempts >= MAX_ATTEMPTS
            log.warning("%s: update %s of chat %s failed (%s, attempt %d)%s", self.channel, update.update_key,
                        chat_id, error, attempts, "; given up" if give_up else "")
            await inbox.record_failure(db, update.id, f"{type(error).__name__}: {error}", give_up=give_up,
                                       now=self.services.clock.now())
            if not give_up:
                metrics.update_failures.labels(self.channel).inc()
                self.kick(chat_id, after=self.policy.delay(update.attempts))
                return False
            self.processed += 1
            metrics.updates_handled.labels(self.channel, "given_up").inc()
            return True
        self._forget(chat_id, update, all_of_chat=not done)  # not its chat's next: the database knows better
        if done:
            self.handled += 1
            self.processed += 1
            metrics.updates_handled.labels(self.channel, "handled").inc()
            metrics.handling_seconds.labels(self.channel).observe(time.perf_counter() - started)
            self.on_handled(chat_id)
        return True
