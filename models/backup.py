"""Backups of a live database and the checks made on one before it is restored.

Everything the bot keeps is in its database: the files kept for links and the catalogue files waiting to be
imported are rows of ``stored_file`` (models/stored_files.py), and memo documents are not kept at all — each DOCX
is made from the memo's rows whenever it is sent or downloaded (models/memo_document.py). A backup of the database
is therefore a backup of the whole bot; the config file (its tokens and secrets) is kept apart by the office.

SQLite: the backup API copies the pages of the live file inside one read transaction. In WAL mode the bot goes on
writing meanwhile, and the copy is the database as it was when the backup began (a step-by-step backup outside a
transaction would start again after every write). PostgreSQL: ``pg_dump`` in its custom format, ``pg_restore``
to restore it.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, make_url

from models.db import Database, alembic_config
from models.schema import metadata

Progress = Callable[[int, int], None]  # (done, total)
PAGES_PER_STEP = 256  # pages copied between two progress reports (1 MiB with 4 KiB pages)


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason for the person who asked."""


@dataclass(frozen=True)
class Inspection:
    """What a backup file holds, checked without changing it."""

    path: Path
    integrity: str  # "ok", or SQLite's first complaints
    revision: str | None  # the migration the backup's schema is at
    head: str  # the newest migration this version of the bot knows
    known: bool  # the backup's migration is one of ours (older ones are brought up to date on restore)
    counts: dict[str, int] = field(default_factory=dict)  # rows of every table

    @property
    def problems(self) -> list[str]:
        found = []
        if self.integrity != "ok":
            found.append(f"integrity check failed: {self.integrity}")
        if self.revision is None:
            found.append("no migration revision: not an ocop-bot database")
        elif not self.known:
            found.append(f"migration {self.revision} is unknown to this version (newest known: {self.head}); "
                         "restore it with the version that made it")
        return found


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database) if parsed.database and parsed.database != ":memory:" else None


def migrations() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """An existing SQLite file (never created by mistake), in autocommit mode: transactions are ours."""
    if not path.is_file():
        raise BackupError(f"{path}: no such database file")
    uri = f"file:{path.resolve().as_posix()}?mode={mode}"
    connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _reporter(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    return lambda _status, remaining, total: progress(total - remaining, total)


def backup_sqlite(source: Path, target: Path, *, progress: Progress | None = None,
                  pages: int = PAGES_PER_STEP) -> None:
    """Copy the live database ``source`` to ``target`` (a new file: written beside it, renamed when complete)."""
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    live = _connect(source, "rw")
    try:
        live.execute("BEGIN")  # one snapshot for every step: the bot's writes meanwhile are not in this backup
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy, pages=pages, progress=_reporter(progress))
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            copy.close()
        live.execute("COMMIT")
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {error}") from error
    finally:
        live.close()
    os.replace(partial, target)


def inspect_sqlite(path: Path) -> Inspection:
    """Integrity, migration revision and row counts of a SQLite backup, read without changing it."""
    script = migrations()
    head = script.get_current_head() or ""
    known = {revision.revision for revision in script.walk_revisions()}
    connection = _connect(path, "ro")
    try:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check(5)")]
        except sqlite3.DatabaseError as error:
            return Inspection(path, f"not a SQLite database ({error})", None, head, False)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if "alembic_version" in tables:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = found[0] if found else None
        counts = {
            table.name: int(connection.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])
            for table in metadata.sorted_tables if table.name in tables
        }
    finally:
        connection.close()
    return Inspection(path, "; ".join(problems) or "ok", revision, head, revision in known, counts)


def restore_sqlite(backup: Path, target: Path, *, keep_as: Path | None, progress: Progress | None = None,
                   pages: int = PAGES_PER_STEP) -> Inspection:
    """Replace the database ``target`` with a checked backup; the database it held is first saved as ``keep_as``.
    The bot must be stopped. Returns the backup's inspection (the caller brings the schema up to date)."""
    inspection = inspect_sqlite(backup)
    if inspection.problems:
        raise BackupError(f"{backup}: " + "; ".join(inspection.problems))
    if keep_as is not None and target.exists():
        backup_sqlite(target, keep_as, pages=pages)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _connect(backup, "ro")
    destination = sqlite3.connect(target, isolation_level=None, timeout=30)
    try:
        destination.execute("PRAGMA busy_timeout=30000")
        source.backup(destination, pages=pages, progress=_reporter(progress))
        destination.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as error:
        raise BackupError(f"restore into {target} failed: {error}") from error
    finally:
        source.close()
        destination.close()
    return inspection


async def table_counts(db: Database) -> dict[str, int]:
    """Rows of every table of the schema, in dependency order."""
    counts: dict[str, int] = {}
    async with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            counts[table.name] = int((await connection.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


async def current_revision(db: Database) -> str | None:
    """The migration the database is at; None when it has none (empty, or not ours)."""
    async with db.engine.connect() as connection:
        try:
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
        except Exception:  # no such table: the error depends on the driver
            return None


# -- PostgreSQL --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgCommand:
    """A pg_dump or pg_restore command line; the password goes in the environment, never in the arguments."""

    argv: list[str]
    env: Mapping[str, str]

    @property
    def shown(self) -> str:
        prefix = "PGPASSWORD=… " if "PGPASSWORD" in self.env else ""
        return prefix + shlex.join(self.argv)


def _libpq(url: str | URL) -> tuple[str, dict[str, str]]:
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_dump_command(url: str | URL, target: Path, schema: str | None = None) -> PgCommand:
    dsn, env = _libpq(url)
    argv = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
    argv += [f"--schema={schema}"] if schema else []
    return PgCommand([*argv, f"--dbname={dsn}"], env)


def pg_restore_command(url: str | URL, backup: Path) -> PgCommand:
    dsn, env = _libpq(url)
    argv = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={dsn}"]
    return PgCommand([*argv, str(backup)], env)


def pg_list_command(backup: Path) -> PgCommand:
    return PgCommand(["pg_restore", "--list", str(backup)], {})


def dumped_tables(listing: str) -> list[str]:
    """The tables whose rows a ``pg_restore --list`` of our dump holds."""
    names = []
    for line in listing.splitlines():
        if line.startswith(";") or " TABLE DATA " not in line:
            continue
        words = line.split(" TABLE DATA ", 1)[1].split()
        if len(words) >= 2:
            names.append(words[1])  # schema, name, owner
    return names
