"""The periodic work of a process, whatever channels it runs: reminding and expiring contact requests, reminding
event registrants the day before, and deleting the files kept for download links that have expired.

One loop per process (``serve`` and ``ocop-bot chat`` each start one), not one per channel. Several processes may
run it at once: each task is database-driven (a reminder is a column set in the notification's transaction, an
expired file is deleted by its row), so a row is handled once however many processes look at it. The
notifications it queues are delivered by each channel's pump.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.channel import Stoppable, finish
from handlers.context import Services
from handlers.events import send_reminders
from handlers.inbox import run_due
from models.stored_files import remove_expired

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0


class Housekeeping(Stoppable):
    def __init__(self, services: Services, every: float = EVERY_SECONDS) -> None:
        super().__init__()
        self.services = services
        self.every = every
        self.rounds = 0  # rounds done (tests wait on it)

    async def round(self) -> None:
        """Each task once: due reminders and expiries of contact requests, event reminders, expired files."""
        await run_due(self.services)
        await send_reminders(self.services)
        async with self.services.db.transaction() as session:
            await remove_expired(session, self.services.clock.now())

    async def run(self) -> None:
        """A round now and every ``every`` seconds until stopped (a round under way is finished, not cut short)."""
        while not self.stopping.is_set():
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed; trying again in %.0f s", self.every)
            self.rounds += 1
            await self.pause(self.every)


@asynccontextmanager
async def housekeeping(services: Services, every: float = EVERY_SECONDS) -> AsyncIterator[Housekeeping]:
    """``async with housekeeping(services):`` — the process's housekeeping loop runs for the length of the block."""
    keeper = Housekeeping(services, every)
    task = asyncio.create_task(keeper.run(), name="housekeeping")
    try:
        yield keeper
    finally:
        keeper.stopping.set()
        await finish([task])
