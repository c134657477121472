"""The sender killed mid-broadcast (SIGKILL) and started again: everyone gets the message, and only sends that were
in flight at the crash can arrive twice. On PostgreSQL two sender processes: one drains, the other stands by and
takes over when the first dies."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from models.db import Database
from tests.conftest import drop_postgres, make_postgres, require_postgres
from tests.fake_telegram import FakeTelegram
from tests.test_broadcast_sender import ADMIN, FIRST, broadcast, people

ROOT = Path(__file__).parents[1]
RECIPIENTS = 60
IN_FLIGHT = 4
ELECTED = "this process sends the broadcasts"
STANDBY = "standing by"


class Worker:
    """tests/broadcast_worker.py in a subprocess, its log lines collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stderr is not None
        self._reader = asyncio.create_task(self._read(process.stderr))

    @classmethod
    async def start(cls, db: Database, base_url: str, schema: str | None = None) -> Worker:
        args = [sys.executable, "-m", "tests.broadcast_worker", db.url.render_as_string(hide_password=False),
                base_url, "--rate", "30", "--in-flight", str(IN_FLIGHT)]
        if schema:
            args += ["--schema", schema]
        process = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
        return cls(process)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace"))

    def said(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


async def fakes(count: int) -> list[FakeTelegram]:
    servers = [FakeTelegram() for _ in range(count)]
    for server in servers:
        await server.start()
    return servers


def received(*servers: FakeTelegram) -> Counter[int]:
    """Broadcast messages each recipient got, over every server."""
    return Counter(c.chat_id for s in servers for c in s.calls
                   if c.method == "sendMessage" and c.chat_id != int(ADMIN))


async def until(condition, timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def done(db: Database) -> bool:
    async with db.session() as session:
        from models.broadcasts import Broadcast

        found = await session.get(Broadcast, 1)
        return found is not None and found.status == "done" and found.final_reported


async def wait_done(db: Database, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await done(db):
        assert time.monotonic() < deadline, "the broadcast did not finish"
        await asyncio.sleep(0.1)


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        await worker.kill()


async def test_killed_mid_broadcast_resumes_without_losing_anyone(
    tmp_path: Path, workers: list[Worker]
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'crash.sqlite3'}")
    await db.upgrade()
    [fake] = await fakes(1)
    try:
        await people(db, RECIPIENTS)
        workers.append(await Worker.start(db, fake.base_url))
        await until(lambda: workers[0].said(ELECTED), what="the sender to start")
        await broadcast(db)
        await until(lambda: sum(received(fake).values()) >= 20, what="20 messages")
        await workers[0].kill()  # SIGKILL: no cleanup, outcomes in flight are lost
        at_crash = sum(received(fake).values())
        assert at_crash < RECIPIENTS

        workers.append(await Worker.start(db, fake.base_url))
        await wait_done(db)
        got = received(fake)
        assert set(got) == set(range(FIRST, FIRST + RECIPIENTS))  # nobody lost
        duplicates = sum(got.values()) - RECIPIENTS
        assert 0 <= duplicates <= IN_FLIGHT  # only what was in flight at the crash
        progress = [c for c in fake.sent_to(int(ADMIN))]
        assert [c.method for c in progress].count("sendMessage") == 1  # the same progress message, edited after it
        assert "Đã gửi: 60/60" in progress[-1].text and "đã gửi xong" in progress[-1].text
    finally:
        await fake.stop()
        await db.dispose()


async def test_two_processes_on_postgres_one_drains(workers: list[Worker]) -> None:
    await require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    db = await make_postgres(schema)
    first, second = await fakes(2)  # one Bot API server per process: who sent what is plain
    try:
        await db.upgrade()
        await people(db, RECIPIENTS)
        workers.extend([await Worker.start(db, first.base_url, schema), await Worker.start(db, second.base_url, schema)])
        await until(lambda: any(w.said(ELECTED) for w in workers) and any(w.said(STANDBY) for w in workers),
                    what="one process elected, the other standing by")
        leader, standby = (0, 1) if workers[0].said(ELECTED) else (1, 0)
        servers = (first, second)
        await broadcast(db)
        await until(lambda: sum(received(servers[leader]).values()) >= 30, what="30 messages")
        assert not received(servers[standby])  # only the elected process sends
        await workers[leader].kill()

        await until(lambda: workers[standby].said(ELECTED), what="the other process to take over")
        await wait_done(db)
        got = received(first) + received(second)
        assert set(got) == set(range(FIRST, FIRST + RECIPIENTS))  # nobody lost
        assert 0 <= sum(got.values()) - RECIPIENTS <= IN_FLIGHT  # twice only for what was in flight
        assert received(servers[standby])  # it finished the job
    finally:
        for server in (first, second):
            await server.stop()
        await db.dispose()
        await drop_postgres(schema)
