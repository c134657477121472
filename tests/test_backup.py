"""Backups of a database in use, restores checked before they change anything, and the progress shown meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import itertools
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from bot.progress import Meter, Reported
from handlers.app import Conversation
from models.backup import BackupError, backup_sqlite, inspect_sqlite, migrations, restore_sqlite, table_counts
from models.catalog import Product
from models.db import Database
from models.people import BuyerProfile, User
from tests.chat import ChatUser, load_catalogue, make_services, register_buyer
from tests.conftest import own_postgres_database


async def buyers(db: Database) -> set[str]:
    async with db.session() as session:
        rows = await session.exec(select(BuyerProfile.company).join(User))
        return set(rows.all())


async def test_a_backup_taken_while_people_talk_to_the_bot_restores_whole(tmp_path: Path) -> None:
    live = tmp_path / "live.sqlite3"
    db = Database(f"sqlite+aiosqlite:///{live}")
    await db.upgrade()
    await load_catalogue(db)
    conversation = Conversation(make_services(db))
    await register_buyer(ChatUser(conversation, "an"), company="Siêu thị An")

    copying, writes_done = threading.Event(), threading.Event()
    steps: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:  # the backup thread, after each page: halfway, the bot writes
        steps.append((done, total))
        if len(steps) == 1:
            copying.set()
            assert writes_done.wait(30)

    backup = asyncio.create_task(asyncio.to_thread(backup_sqlite, live, tmp_path / "b.sqlite3", progress=progress,
                                                   pages=1))
    assert await asyncio.to_thread(copying.wait, 30)
    await register_buyer(ChatUser(conversation, "binh"), company="Siêu thị Bình")  # committed during the backup
    writes_done.set()
    await backup
    await db.dispose()

    assert len(steps) > 10 and steps[-1][0] == steps[-1][1]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(steps))  # never started over
    inspection = inspect_sqlite(tmp_path / "b.sqlite3")
    assert inspection.problems == [] and inspection.revision == migrations().get_current_head()
    assert inspection.counts["product"] == 5 and inspection.counts["buyer_profile"] == 1

    restore_sqlite(tmp_path / "b.sqlite3", tmp_path / "restored.sqlite3", keep_as=None)
    restored = Database(f"sqlite+aiosqlite:///{tmp_path / 'restored.sqlite3'}")
    try:
        assert await buyers(restored) == {"Siêu thị An"}  # as it was when the backup began
        again = ChatUser(Conversation(make_services(restored)), "an")
        await again.says("/profile")
        assert again.saw("Siêu thị An")  # the conversation goes on where it was
    finally:
        await restored.dispose()
    reopened = Database(f"sqlite+aiosqlite:///{live}")
    assert await buyers(reopened) == {"Siêu thị An", "Siêu thị Bình"}
    await reopened.dispose()
    with sqlite3.connect(tmp_path / "restored.sqlite3") as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def ocop_bot(folder: Path, *args: str, url: str = "") -> Ran:
    """The `ocop-bot` command in this process (its start-up is paid once), run in ``folder`` on its cli.sqlite3
    (or on the database ``url``)."""
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(list(args))

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("OCOP_BOT__DATABASE__URL", url or f"sqlite+aiosqlite:///{folder / 'cli.sqlite3'}")
        code = await asyncio.to_thread(call)
    return Ran(code, out.getvalue(), err.getvalue())


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.glob("cli.sqlite3*"))}


async def products(path: Path) -> int:
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        return (await table_counts(db))["product"]
    finally:
        await db.dispose()


async def test_restore_checks_a_backup_first_and_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    live = tmp_path / "cli.sqlite3"  # the database run() configures
    db = Database(f"sqlite+aiosqlite:///{live}")
    await db.upgrade()
    await load_catalogue(db)
    taken = await ocop_bot(tmp_path, "backup", "monday.sqlite3")
    assert taken.returncode == 0, taken.stderr
    assert "backup written to monday.sqlite3: integrity ok, migration" in taken.stdout
    with pytest.raises(BackupError, match="exists already"):
        backup_sqlite(live, tmp_path / "monday.sqlite3")  # never overwrites a backup
    async with db.transaction() as session:
        session.add(Product(name="Mứt gừng", name_key="mut gung", producer_id=1, group=1, stars=3))
    await db.dispose()

    before = fingerprint(tmp_path)
    dry = await ocop_bot(tmp_path, "restore", "monday.sqlite3", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "integrity: ok" in dry.stdout and "dry run: " in dry.stdout
    product_line = next(line.split() for line in dry.stdout.splitlines() if line.strip().startswith("product "))
    assert product_line == ["product", "5", "6"]  # the backup's rows, and the database's now
    assert fingerprint(tmp_path) == before

    data = bytearray((tmp_path / "monday.sqlite3").read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096
    (tmp_path / "broken.sqlite3").write_bytes(bytes(data))
    refused = await ocop_bot(tmp_path, "restore", "broken.sqlite3")
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr
    assert fingerprint(tmp_path) == before

    done = await ocop_bot(tmp_path, "restore", "monday.sqlite3")
    assert done.returncode == 0, done.stderr
    assert "restored monday.sqlite3 into" in done.stdout and "is kept as" in done.stdout
    assert await products(live) == 5
    assert await products(next(tmp_path.glob("cli.sqlite3.before-restore-*"))) == 6  # what the restore replaced


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A PostgreSQL database of its own (pg_dump and pg_restore work on whole databases)."""
    async with own_postgres_database("ocop_backup") as url:
        yield url


@pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
                    reason="PostgreSQL's client tools are not installed")
async def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(
    tmp_path: Path, postgres_database: str
) -> None:
    db = Database(postgres_database)
    await db.upgrade()
    await load_catalogue(db)
    taken = await ocop_bot(tmp_path, "backup", "monday.pgdump", url=postgres_database)
    assert taken.returncode == 0, taken.stderr
    assert "pg_dump custom format" in taken.stdout
    assert taken.stderr.splitlines()[-1].startswith("backup: ")  # its progress, table by table
    async with db.transaction() as session:
        session.add(Product(name="Mứt gừng", name_key="mut gung", producer_id=1, group=1, stars=3))

    dry = await ocop_bot(tmp_path, "restore", "monday.pgdump", "--dry-run", url=postgres_database)
    assert dry.returncode == 0, dry.stderr
    assert "pg_dump file, rows of" in dry.stdout and "dry run: the database was not changed" in dry.stdout
    assert (await table_counts(db))["product"] == 6
    await db.dispose()  # the bot is stopped for a restore

    done = await ocop_bot(tmp_path, "restore", "monday.pgdump", url=postgres_database)
    assert done.returncode == 0, done.stderr
    assert "restored monday.pgdump" in done.stdout
    db = Database(postgres_database)
    assert (await table_counts(db))["product"] == 5
    await db.dispose()


def test_a_backup_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as made:
        made.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        made.execute("INSERT INTO alembic_version VALUES ('9999')")
    inspection = inspect_sqlite(path)
    assert inspection.integrity == "ok" and not inspection.known
    with pytest.raises(BackupError, match="9999 is unknown"):
        restore_sqlite(path, tmp_path / "target.sqlite3", keep_as=None)
    assert not (tmp_path / "target.sqlite3").exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere() -> None:
    screen, log = Terminal(), io.StringIO()
    for stream in (screen, log):
        with Meter("copy", "rows", stream) as meter:
            for done in range(0, 1001, 50):
                meter(done, 1000)
    assert "\r" in screen.getvalue() and "100%" in screen.getvalue() and "1000/1000" in screen.getvalue()
    assert log.getvalue().splitlines() == [f"copy: {n} of 1000 rows ({n // 10}%)" for n in range(100, 1001, 100)]

    quick = io.StringIO()
    with Meter("import", "rows", quick) as meter:
        meter(5, 5)  # done at once: nothing to watch
    assert quick.getvalue() == ""

    seen: list[tuple[int, int]] = []
    rows = Reported([("a",), ("b",), ("c",)], lambda done, total: seen.append((done, total)))
    assert rows[:2] == [("a",), ("b",)] and seen == []  # a look at the first rows is not progress
    assert list(rows) == [("a",), ("b",), ("c",)] and seen == [(1, 3), (2, 3), (3, 3)]
