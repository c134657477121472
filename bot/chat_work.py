"""Work done chat by chat: each chat's items in order, different chats at once (up to ``in_flight``), the chats
whose work waited longest first.

A chat gets work in two ways: this process says so (``kick``: an update it stored, replies it wrote), or the
database shows some (``scan``, every ``scan_every`` seconds: what another process left behind when it died, retries
that came due). The inbox worker (bot/inbox_worker.py) and the outbox sender (bot/outbox_sender.py) are two kinds.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from bot.stopping import Stoppable, finish

log = logging.getLogger(__name__)


class ChatWork(Stoppable, ABC):
    name = "chat work"

    def __init__(self, in_flight: int, scan_every: float) -> None:
        super().__init__()
        self.in_flight = in_flight
        self.scan_every = scan_every
        self._ready: dict[str, None] = {}  # chats to look at, in the order they were named (an ordered set)
        self._active: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # kicked while active: looked at again when the current round ends
        self._scheduled = 0  # kicks waiting for their time (retries)
        self._wake = asyncio.Event()
        self.rounds = 0  # chat rounds finished (tests wait on it)

    @abstractmethod
    async def scan(self) -> list[str]:
        """Chats with work waiting in the database, those waiting longest first."""

    @abstractmethod
    async def work(self, chat_id: str) -> None:
        """Do the chat's work until none is left (or it must wait: then ``kick(chat_id, after=…)``)."""

    def kick(self, chat_id: str, after: float = 0.0) -> None:
        """The chat has work (in ``after`` seconds)."""
        if after > 0:
            self._scheduled += 1
            asyncio.get_running_loop().call_later(after, self._kick_scheduled, chat_id)
            return
        if chat_id in self._active:
            self._again.add(chat_id)
        else:
            self._ready[chat_id] = None
        self._wake.set()

    def _kick_scheduled(self, chat_id: str) -> None:
        self._scheduled -= 1
        self.kick(chat_id)

    async def run(self) -> None:
        """Until stopped: start the ready chats as places free up; scan the database now and then."""
        next_scan = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not self.stopping.is_set():
                if loop.time() >= next_scan:
                    next_scan = loop.time() + self.scan_every
                    try:
                        for chat_id in await self.scan():
                            if chat_id not in self._active:
                                self._ready.setdefault(chat_id, None)
                    except Exception as error:  # the database is away: what was kicked still runs; scan again later
                        log.warning("%s: could not look for work (%s)", self.name, error)
                while self._ready and len(self._active) < self.in_flight:
                    chat_id = next(iter(self._ready))
                    del self._ready[chat_id]
                    self._active[chat_id] = asyncio.create_task(self._round(chat_id))
                self._wake.clear()
                with_room = len(self._active) < self.in_flight
                await self._sleep(next_scan - loop.time() if with_room or not self._ready else self.scan_every)
        finally:
            await finish(list(self._active.values()))

    async def _sleep(self, seconds: float) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(waits, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _round(self, chat_id: str) -> None:
        try:
            await self.work(chat_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: chat %s failed; it is looked at again at the next scan", self.name, chat_id)
        finally:
            del self._active[chat_id]
            self.rounds += 1
            if chat_id in self._again:
                self._again.discard(chat_id)
                self._ready[chat_id] = None
            self._wake.set()

    def is_idle(self) -> bool:
        """Nothing ready, running or waiting for its time (a retry) in this process."""
        return not self._ready and not self._active and not self._scheduled

    async def drained(self) -> None:
        """Wait until nothing is ready or running (tests)."""
        while not self.is_idle():
            self._wake.set()
            await asyncio.sleep(0.005)
