"""Backup and copy-db benchmark: a season's database (100,000 products, 20,000 contact requests, 5,000 memos and
20 MB of kept files) backed up while a writer commits as fast as it can, checked, and copied to SQLite and to
PostgreSQL — beside baselines measured in the same run: a plain file copy of the database, and reading every row
without writing it.

    .venv/bin/python bench/backup.py                    # PostgreSQL too when OCOP_TEST_POSTGRES_URL is reachable
    .venv/bin/python bench/backup.py --products 10000   # a smaller run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench.dashboard import NOW, seed
from bench.databases import fresh_database
from models.backup import backup_sqlite, inspect_sqlite
from models.copy_db import copy_database
from models.db import Database
from models.schema import metadata
from models.stored_files import store

FILES = 200
FILE_BYTES = 100 * 1024


async def read_everything(db: Database) -> int:
    rows = 0
    async with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            stream = await connection.stream(select(table).order_by(*table.primary_key.columns))
            async for batch in stream.partitions(1000):
                rows += len(batch)
    return rows


def writer(path: Path, stop: threading.Event, done: list[int]) -> None:
    """The bot's writes meanwhile: one small transaction after another."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    while not stop.is_set():
        connection.execute("UPDATE catalog_version SET version = version + 1")
        done.append(1)
    connection.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--memos", type=int, default=5_000)
    args = parser.parse_args()
    postgres = os.environ.get("OCOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as folder:
        live = Path(folder) / "bench.sqlite3"
        async with fresh_database(None, folder) as db:
            await seed(db, args.products, args.requests, min(args.memos, args.requests))
            async with db.transaction() as session:
                for n in range(FILES):
                    await store(session, f"export-{n}.xlsx", "application/octet-stream", os.urandom(FILE_BYTES),
                                NOW, timedelta(days=3))
            await db.engine.dispose()  # the file as the bot leaves it, its WAL written back
            with sqlite3.connect(live, isolation_level=None) as plain:
                plain.execute("INSERT OR IGNORE INTO catalog_version (id, version) VALUES (1, 0)")
                plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = live.stat().st_size / 1e6
            print(f"{args.products} products, {args.requests} requests, {args.memos} memos, {FILES} kept files: "
                  f"{size:.0f} MB")

            started = time.perf_counter()
            shutil.copyfile(live, Path(folder) / "plain-copy.sqlite3")
            print(f"baseline: file copy (bot stopped)          {time.perf_counter() - started:6.2f} s")

            started = time.perf_counter()
            await asyncio.to_thread(backup_sqlite, live, Path(folder) / "quiet.backup")
            print(f"backup, nobody writing                      {time.perf_counter() - started:6.2f} s")

            stop, writes = threading.Event(), []
            thread = threading.Thread(target=writer, args=(live, stop, writes))
            thread.start()
            await asyncio.sleep(0.5)
            before = len(writes)
            started = time.perf_counter()
            await asyncio.to_thread(backup_sqlite, live, Path(folder) / "busy.backup")
            took = time.perf_counter() - started
            during = len(writes) - before
            stop.set()
            thread.join()
            print(f"backup, a writer committing meanwhile       {took:6.2f} s  ({during} commits during it, "
                  f"{during / took:.0f}/s)")

            started = time.perf_counter()
            inspection = inspect_sqlite(Path(folder) / "busy.backup")
            print(f"restore --dry-run check (integrity, counts) {time.perf_counter() - started:6.2f} s  "
                  f"({inspection.integrity}, {sum(inspection.counts.values())} rows)")

            started = time.perf_counter()
            rows = await read_everything(db)
            read = time.perf_counter() - started
            print(f"baseline: reading every row                 {read:6.2f} s  ({rows / read:.0f} rows/s)")
            for name, url in (("SQLite", None), ("PostgreSQL", postgres)):
                place = Path(folder) / f"target-{name}"
                place.mkdir()
                try:
                    async with fresh_database(url, str(place)) as target:
                        started = time.perf_counter()
                        report = await copy_database(db, target)
                        took = time.perf_counter() - started
                        print(f"copy-db → {name:<10}                       {took:6.2f} s  "
                              f"({report.rows / took:.0f} rows/s, counts verified)")
                except OSError as error:
                    print(f"copy-db → {name}: not run ({error})")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
