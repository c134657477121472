"""Moving from SQLite to PostgreSQL (`ocop-bot copy-db`): every row of every table arrives, the target's ids go on
after the copied ones when two replicas write to it, and a target holding rows is refused unless it may be
emptied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handlers.app import Conversation
from models.backup import table_counts
from models.clock import FakeClock
from models.copy_db import CopyError, copy_database
from models.db import Database
from models.schema import metadata
from models.stored_files import store
from tests.chat import ChatUser, load_catalogue, make_services, register_buyer, with_draft_memo
from tests.test_backup import ocop_bot

PICTURE = bytes(range(256)) * 40  # bytes that no text encoding would keep


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database after an event's work: the catalogue, users, a contact request, a draft memo, its
    notifications and outbox rows, and a kept file."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'season.sqlite3'}")
    await db.upgrade()
    services = await with_draft_memo(db)
    async with db.transaction() as session:
        await store(session, "ảnh.png", "image/png", PICTURE, services.clock.now(), timedelta(days=3))
    yield db
    await db.dispose()


@pytest.fixture
def target(empty_db: Database) -> Database:
    """An empty, unmigrated database of each backend (tests/conftest.py)."""
    return empty_db


async def every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    async with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            result = await connection.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [dict(row._mapping) for row in result]
    return rows


async def test_every_row_is_copied_and_two_replicas_go_on_writing(source: Database, target: Database) -> None:
    seen: list[tuple[int, int]] = []
    report = await copy_database(source, target, batch=7, progress=lambda done, total: seen.append((done, total)))

    counts = await table_counts(source)
    assert report.counts == counts == await table_counts(target)
    assert all(counts[name] for name in ("product", "producer", "app_user", "memo", "contact_request",
                                         "outbound_message", "stored_file", "notification"))
    assert await every_row(target) == await every_row(source)
    assert seen[0] == (0, report.rows) and seen[-1] == (report.rows, report.rows) and len(seen) > 10

    largest = max(row["id"] for row in (await every_row(target))["app_user"])
    replicas = [Conversation(make_services(target, FakeClock())) for _ in range(2)]
    people = [ChatUser(replicas[n % 2], f"new{n}") for n in range(4)]
    await asyncio.gather(*(register_buyer(person, company=f"Công ty {n}") for n, person in enumerate(people)))
    after = (await every_row(target))["app_user"]
    assert len(after) == counts["app_user"] + 4 and min(row["id"] for row in after[-4:]) > largest


async def test_a_target_holding_rows_is_refused_unless_it_may_be_emptied(source: Database, target: Database) -> None:
    await copy_database(source, target)
    with pytest.raises(CopyError, match="give --replace"):
        await copy_database(source, target)
    report = await copy_database(source, target, replace=True)
    assert report.counts == await table_counts(target)


async def test_a_source_behind_the_newest_schema_is_refused(tmp_path: Path, target: Database) -> None:
    old = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    await old.upgrade("0013")
    try:
        with pytest.raises(CopyError, match="db upgrade"):
            await copy_database(old, target)
    finally:
        await old.dispose()


async def test_copy_db_from_the_command_line_shows_its_progress(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")  # the database run() configures
    await db.upgrade()
    await load_catalogue(db)
    await db.dispose()
    to = f"sqlite+aiosqlite:///{tmp_path / 'copy.sqlite3'}"
    done = await ocop_bot(tmp_path, "copy-db", "--to", to, "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "copied 11 rows from" in done.stdout and "every table's count matches" in done.stdout
    lines = done.stderr.splitlines()  # not a terminal: a plain line at each tenth passed
    shown = [int(line.split()[1]) for line in lines]
    assert lines == [f"copy: {n} of 11 rows ({n * 100 // 11}%)" for n in shown]
    assert len(shown) >= 4 and shown == sorted(set(shown)) and shown[-1] == 11
