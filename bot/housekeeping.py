"""The background work of a process, whatever channels it runs: reminding and expiring contact requests, reminding
event registrants the day before, reminding producers 90 and 30 days before their OCOP certificate ends, reminding
both sides of an event meeting shortly before it, deleting
the files kept for download links that have expired, forgetting the updates handled and the messages sent more than
a week ago (models/inbox.py, models/outbox.py), and running the catalogue imports admins send in a chat.

One of each loop per process (``serve`` and ``ocop-bot chat`` each start them), not one per channel. Several
processes may run them at once: each task is database-driven (a reminder is a column or row set in the
notification's transaction, an expired file is deleted by its row, an import job is leased to one worker), so a row
is handled once however many processes look at it. The notifications they queue are delivered by each channel's pump.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.stopping import Stoppable, finish
from handlers import certificates, meetings
from handlers.context import Services
from handlers.events import send_reminders
from handlers.import_jobs import run_next
from handlers.inbox import run_due
from models.import_jobs import on_queued
from models.inbox import forget_handled
from models.outbox import forget_done
from models.stored_files import remove_expired

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0
IMPORTS_EVERY_SECONDS = 5.0  # how often the import worker looks for jobs it was not woken for


class Housekeeping(Stoppable):
    def __init__(self, services: Services, every: float = EVERY_SECONDS) -> None:
        super().__init__()
        self.services = services
        self.every = every
        self.rounds = 0  # rounds done (tests wait on it)

    async def round(self) -> None:
        """Each task once: due reminders and expiries of contact requests, event reminders, certificate reminders,
        meeting reminders, expired files, old updates and messages."""
        await run_due(self.services)
        await send_reminders(self.services)
        await certificates.send_reminders(self.services)
        await meetings.send_reminders(self.services)
        async with self.services.db.transaction() as session:
            now = self.services.clock.now()
            await remove_expired(session, now)
            await forget_handled(session, now)
            await forget_done(session, now)

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


class ImportWorker(Stoppable):
    """Runs the catalogue imports admins send (handlers/import_jobs.py), one job at a time: at once when a job is
    queued in this process, and every ``every`` seconds for the others (queued by another process, left by a worker
    that died, waiting for a retry). Told to stop, it stops the job under way at its next batch and gives it back."""

    def __init__(self, services: Services, every: float = IMPORTS_EVERY_SECONDS) -> None:
        super().__init__()
        self.services = services
        self.every = every
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-100:]
        self.woken = asyncio.Event()
        self.jobs = 0  # jobs this worker has run

    async def run(self) -> None:
        unsubscribe = on_queued(self.woken.set)
        try:
            while not self.stopping.is_set():
                self.woken.clear()
                try:
                    ran = await run_next(self.services, self.name, stopping=self.stopping.is_set)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("import worker failed; trying again in %.0f s", self.every)
                    ran = False
                if ran:
                    self.jobs += 1
                else:
                    await self._nap()
        finally:
            unsubscribe()

    async def _nap(self) -> None:
        """Until woken, told to stop, or ``every`` seconds have passed."""
        with contextlib.suppress(TimeoutError):
            await self.unless_stopping(asyncio.wait_for(self.woken.wait(), self.every))


@asynccontextmanager
async def housekeeping(services: Services, every: float = EVERY_SECONDS) -> AsyncIterator[Housekeeping]:
    """``async with housekeeping(services):`` — the process's housekeeping loop and import worker run for the length
    of the block."""
    keeper = Housekeeping(services, every)
    imports = ImportWorker(services)
    tasks = [
        asyncio.create_task(keeper.run(), name="housekeeping"),
        asyncio.create_task(imports.run(), name="imports"),
    ]
    try:
        yield keeper
    finally:
        keeper.stopping.set()
        imports.stopping.set()
        await finish(tasks)
