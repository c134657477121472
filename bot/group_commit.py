"""Group commit: writes that come while one is under way wait for the next, which takes them all in one
transaction. Under a burst of webhook deliveries this turns a commit per update into a commit per batch; alone, a
write goes at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], Awaitable[object]], max_batch: int = 500) -> None:
        self.write = write
        self.max_batch = max_batch
        self._waiting: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def put(self, items: Sequence[T]) -> None:
        """Return once ``items`` are written (their batch committed); raise what the write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        while self._waiting:
            batch, taken = [], 0
            while self._waiting and taken < self.max_batch:
                items, done = self._waiting.pop(0)
                batch.append((items, done))
                taken += len(items)
            try:
                await self.write([item for items, _ in batch for item in items])
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
