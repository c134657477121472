"""Stopping loops cleanly: a loop told to stop finishes its round (a transaction is never cut short) and returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")
STOP_GRACE = 5.0  # seconds a loop told to stop gets to finish what it is doing


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
