"""Running things for the length of a test: a loopback fake server (Telegram, Zalo), and `ocop-bot serve` itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import aiohttp

BIN = Path(sys.executable).parent / "ocop-bot"


class Server(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


@asynccontextmanager
async def serving(server: S) -> AsyncIterator[S]:
    """``async with serving(FakeTelegram()) as fake:`` — started, and stopped however the test ends."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Served:
    """A running `ocop-bot serve`: its web server's address; after it stopped, its exit status and output."""

    base: str
    returncode: int | None = None
    out: str = ""
    err: str = ""


@asynccontextmanager
async def serve_process(tmp_path: Path, port: int, settings: dict[str, str]) -> AsyncIterator[Served]:
    """`ocop-bot serve` in a process of its own, configured only by ``settings`` (OCOP_BOT__… variables) on a fresh
    SQLite file; yielded once /healthz answers, stopped with SIGTERM (as an operator stops it) however the test ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_BOT")}
    env.update({"OCOP_BOT__DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
                "OCOP_BOT__WEB__PORT": str(port), **settings})
    process = await asyncio.create_subprocess_exec(
        str(BIN), "serve", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    served = Served(f"http://127.0.0.1:{port}")
    try:
        await _healthy(served.base)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        served.returncode, served.out, served.err = process.returncode, out.decode(), err.decode()


async def _healthy(base: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"ocop-bot serve did not answer {base}/healthz within {seconds:g} s")
