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


class ServeProcess:
    """`ocop-bot serve` in a process of its own, configured only by ``settings`` (OCOP_BOT__… variables); its
    output goes to files (a killed process leaves them readable)."""

    def __init__(self, tmp_path: Path, port: int, settings: dict[str, str], name: str = "serve") -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_BOT")}
        self.env.update({"OCOP_BOT__DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
                         "OCOP_BOT__WEB__PORT": str(port), **settings})
        self.cwd, self.name = tmp_path, name
        self.served = Served(f"http://127.0.0.1:{port}")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Served:
        """Started, once /healthz answers."""
        out, err = (open(self.cwd / f"{self.name}.{kind}", "ab") for kind in ("out", "err"))  # noqa: SIM115
        with out, err:
            self.process = await asyncio.create_subprocess_exec(
                str(BIN), "serve", cwd=self.cwd, env=self.env, stdout=out, stderr=err)
        try:
            await _healthy(self.served.base)
        except AssertionError as error:
            await self.kill()
            raise AssertionError(f"{error}\n{(self.cwd / f'{self.name}.err').read_text(errors='replace')}") from None
        return self.served

    async def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> Served:
        """SIGTERM, as an operator stops it; its exit status and output."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)
        served = self.served
        served.returncode = self.process.returncode if self.process is not None else None
        served.out = (self.cwd / f"{self.name}.out").read_text(errors="replace")
        served.err = (self.cwd / f"{self.name}.err").read_text(errors="replace")
        return served


@asynccontextmanager
async def serve_process(tmp_path: Path, port: int, settings: dict[str, str]) -> AsyncIterator[Served]:
    """`ocop-bot serve` on a fresh SQLite file; yielded once /healthz answers, stopped with SIGTERM (as an operator
    stops it) however the test ends."""
    process = ServeProcess(tmp_path, port, settings)
    served = await process.start()
    try:
        yield served
    finally:
        await process.stop()


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
