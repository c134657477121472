"""Running a loopback fake server (Telegram, Zalo) for the length of a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, TypeVar


class Server(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


async def serving(server: S) -> AsyncIterator[S]:
    """``async for fake in serving(FakeTelegram()): yield fake`` — started, and stopped however the test ends."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
