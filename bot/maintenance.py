"""The `ocop-bot backup`, `restore` and `copy-db` commands (docs/DEPLOY.md tells when to use which)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.progress import Meter
from models.backup import (
    BackupError,
    Inspection,
    PgCommand,
    backup_sqlite,
    current_revision,
    dumped_tables,
    inspect_sqlite,
    migrations,
    pg_dump_command,
    pg_list_command,
    pg_restore_command,
    restore_sqlite,
    sqlite_file,
    table_counts,
)
from models.copy_db import BATCH_ROWS, CopyError, copy_database
from models.db import Database
from models.schema import metadata

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser("backup", help="back up the database while the bot runs (SQLite: a copy; "
                                 "PostgreSQL: pg_dump)")
    backup.add_argument("path", type=Path, help="the backup file to write (a new file)")
    backup.set_defaults(handler=cmd_backup)

    restore = commands.add_parser("restore", help="replace the database with a backup (stop the bot first)")
    restore.add_argument("path", type=Path, help="a file written by `ocop-bot backup`")
    restore.add_argument("--dry-run", action="store_true",
                         help="check the backup (integrity, migration, row counts) and change nothing")
    restore.set_defaults(handler=cmd_restore)

    copy = commands.add_parser("copy-db", help="copy every row into another database (SQLite → PostgreSQL)")
    copy.add_argument("--from", dest="source", help="the database to read (default: the configured one)")
    copy.add_argument("--to", dest="target", required=True, help="the database to fill, e.g. "
                      "postgresql+asyncpg://ocop@localhost/ocop (migrated to the newest schema first)")
    copy.add_argument("--replace", action="store_true", help="empty the target first when it holds rows")
    copy.add_argument("--batch", type=int, default=BATCH_ROWS, help=f"rows per transaction (default {BATCH_ROWS})")
    copy.set_defaults(handler=cmd_copy_db)


def fail(command: str, message: str) -> int:
    print(f"ocop-bot {command}: {message}", file=sys.stderr)
    return 1


def _summary(counts: dict[str, int]) -> str:
    tables = sum(1 for name in counts if name in metadata.tables)
    return f"{sum(counts.values())} rows in {tables} tables"


def _thread_meter(meter: Meter) -> Callable[[int, int], None]:
    """A progress callback for work in another thread: the meter is drawn from the event loop's thread."""
    loop = asyncio.get_running_loop()
    return lambda done, total: loop.call_soon_threadsafe(meter, done, total)


async def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database.url
    path: Path = args.path
    source = sqlite_file(url)
    if source is not None:
        with Meter("backup", "pages") as meter:
            try:
                await asyncio.to_thread(backup_sqlite, source, path, progress=_thread_meter(meter))
            except BackupError as error:
                return fail("backup", str(error))
        inspection = inspect_sqlite(path)
        print(f"backup written to {path}: integrity {inspection.integrity}, migration {inspection.revision}, "
              f"{_summary(inspection.counts)}")
        return 0 if not inspection.problems else 1
    if path.exists():
        return fail("backup", f"{path} exists already: choose a new name")
    command = pg_dump_command(url, path)
    if shutil.which("pg_dump") is None:
        print(f"pg_dump is not installed here; run on a machine that has it (the client of the server's version):"
              f"\n  {command.shown}", file=sys.stderr)
        return 1
    with Meter("backup", "tables") as meter:
        status = await _run_pg(command, meter, tables=len(metadata.tables) + 1, mark="dumping contents of table")
    if status != 0:
        path.unlink(missing_ok=True)
        return fail("backup", f"pg_dump failed (exit {status}): {command.shown}")
    print(f"backup written to {path} (pg_dump custom format; restore with `ocop-bot restore {path}`)")
    return 0


async def _run_pg(command: PgCommand, meter: Meter, *, tables: int, mark: str) -> int:
    """Run pg_dump/pg_restore --verbose, counting the tables it reports; its other lines are shown on errors."""
    process = await asyncio.create_subprocess_exec(
        *command.argv[:1], "--verbose", *command.argv[1:], env={**os.environ, **command.env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    done, kept = 0, []
    meter(0, tables)
    async for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        if mark in line:
            done += 1
            meter(min(done, tables), tables)
        elif "error" in line.lower() or "warning" in line.lower():
            kept.append(line)
    status = await process.wait()
    if status == 0:
        meter(tables, tables)
    for line in kept[-10:]:
        print(line, file=sys.stderr)
    return status


def _kind(path: Path) -> str:
    with path.open("rb") as file:
        head = file.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    return "pg_dump" if head.startswith(PG_DUMP_MAGIC) else "unknown"


def _report(inspection: Inspection, now: dict[str, int]) -> str:
    known = "" if inspection.known else " (unknown)"
    older = " (older: brought up to date on restore)" if inspection.known and inspection.revision != \
        inspection.head else ""
    lines = [
        f"backup {inspection.path}",
        f"  integrity: {inspection.integrity}",
        f"  migration: {inspection.revision}{known}{older}; this version's newest: {inspection.head}",
        f"  {'table':<24}{'backup':>10}{'now':>10}",
    ]
    lines += [f"  {name:<24}{rows:>10}{now.get(name, 0):>10}" for name, rows in inspection.counts.items()]
    lines.append(f"  {_summary(inspection.counts)}")
    return "\n".join(lines)


async def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.path
    if not path.is_file():
        return fail("restore", f"{path}: no such file")
    kind, target = _kind(path), sqlite_file(settings.database.url)
    if target is not None:
        if kind != "sqlite":
            return fail("restore", f"{path} is not a SQLite backup (the configured database is SQLite)")
        return await _restore_sqlite(path, target, settings, dry_run=args.dry_run)
    if kind == "sqlite":
        return fail("restore", "the configured database is PostgreSQL: copy a SQLite backup into it with "
                    f"`ocop-bot copy-db --from sqlite+aiosqlite:///{path.resolve()} --to <the database URL> "
                    "--replace`")
    if kind != "pg_dump":
        return fail("restore", f"{path} is neither a SQLite backup nor a pg_dump file")
    return await _restore_pg(path, settings, dry_run=args.dry_run)


async def _current(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        return await table_counts(db) if await current_revision(db) else {}
    except Exception:  # no database yet, or not one of ours: nothing to compare with
        return {}
    finally:
        await db.dispose()


async def _restore_sqlite(path: Path, target: Path, settings: Settings, *, dry_run: bool) -> int:
    try:
        inspection = await asyncio.to_thread(inspect_sqlite, path)
    except BackupError as error:
        return fail("restore", str(error))
    now = await _current(settings.database.url) if target.exists() else {}
    print(_report(inspection, now))
    if inspection.problems:
        return fail("restore", "; ".join(inspection.problems) + " — nothing was changed")
    if dry_run:
        print(f"dry run: {target} was not changed")
        return 0
    keep_as = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    with Meter("restore", "pages") as meter:
        try:
            await asyncio.to_thread(restore_sqlite, path, target, keep_as=keep_as, progress=_thread_meter(meter))
        except BackupError as error:
            return fail("restore", str(error))
    return await _after_restore(settings, f"restored {path} into {target}" +
                                (f"; the database it replaced is kept as {keep_as}" if keep_as.exists() else ""))


async def _after_restore(settings: Settings, done: str) -> int:
    db = Database(settings.database.url)
    try:
        await db.upgrade()
        counts = await table_counts(db)
    finally:
        await db.dispose()
    print(f"{done}: {_summary(counts)}, migration {migrations().get_current_head()}")
    return 0


async def _restore_pg(path: Path, settings: Settings, *, dry_run: bool) -> int:
    listing, restore = pg_list_command(path), pg_restore_command(settings.database.url, path)
    if shutil.which("pg_restore") is None:
        print(f"pg_restore is not installed here; with the bot stopped, run:\n  {restore.shown}\n"
              "then `ocop-bot db upgrade`", file=sys.stderr)
        return 1
    process = await asyncio.create_subprocess_exec(*listing.argv, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        return fail("restore", f"{path} is not readable by pg_restore: {err.decode(errors='replace').strip()}")
    tables = dumped_tables(out.decode(errors="replace"))
    missing = [name for name in metadata.tables if name not in tables]
    print(f"backup {path}\n  pg_dump file, rows of {len(tables)} tables"
          + (f"; tables missing: {', '.join(missing)}" if missing else ""))
    now = await _current(settings.database.url)
    if now:
        print(f"  the database now: {_summary(now)}")
    if missing or "alembic_version" not in tables:
        return fail("restore", "not a whole ocop-bot dump — nothing was changed")
    if dry_run:
        print("dry run: the database was not changed (row counts are shown after a restore)")
        return 0
    with Meter("restore", "tables") as meter:
        status = await _run_pg(restore, meter, tables=len(tables), mark="processing data for table")
    if status != 0:
        return fail("restore", f"pg_restore failed (exit {status}); it ran in one transaction: nothing changed")
    return await _after_restore(settings, f"restored {path}")


async def cmd_copy_db(args: argparse.Namespace, settings: Settings) -> int:
    source = Database(args.source or settings.database.url)
    target = Database(args.target)
    try:
        with Meter("copy", "rows") as meter:
            report = await copy_database(source, target, replace=args.replace, batch=max(1, args.batch),
                                         progress=meter)
    except CopyError as error:
        return fail("copy-db", str(error))
    finally:
        await source.dispose()
        await target.dispose()
    print(f"copied {report.rows} rows from {source.safe_url} to {target.safe_url}; every table's count matches")
    return 0

