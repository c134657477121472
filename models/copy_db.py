"""Copying every row of one database into another: moving from SQLite to PostgreSQL (or back, or between
servers).

The target is migrated to the newest schema, the tables are copied parent before child (the schema's dependency
order) in batches read as a stream, PostgreSQL's id sequences are set past the largest copied id (so the next
row a replica writes gets a new id), and the row counts of both sides are compared. The source must be at the
same migration as the target and is only read; a target that holds rows is refused unless it may be emptied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, Table, delete, func, select, text

from models.backup import current_revision, migrations, table_counts
from models.db import Database
from models.schema import metadata

BATCH_ROWS = 1000
Progress = Callable[[int, int], None]  # (rows copied, rows to copy)


class CopyError(Exception):
    """A copy that cannot be made or did not come out whole, with the reason."""


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]  # rows of each table, the same on both sides

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


async def copy_database(
    source: Database,
    target: Database,
    *,
    replace: bool = False,
    batch: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (emptied first when ``replace``; refused when it holds rows
    otherwise) and check that both hold as many rows in every table."""
    head = migrations().get_current_head()
    revision = await current_revision(source)
    if revision != head:
        raise CopyError(f"the source is at migration {revision or 'none'}, not {head}: "
                        "run `ocop-bot db upgrade` on it first")
    await target.upgrade()
    present = {name: rows for name, rows in (await table_counts(target)).items() if rows}
    if present and not replace:
        listed = ", ".join(f"{name} {rows}" for name, rows in present.items())
        raise CopyError(f"the target holds rows ({listed}): give --replace to empty it first")
    if present:
        await _empty(target)
    counts = await table_counts(source)
    total, done = sum(counts.values()), 0
    if progress:
        progress(0, total)
    for table in metadata.sorted_tables:
        async with source.engine.connect() as reading:
            stream = await reading.stream(select(table).order_by(*table.primary_key.columns))
            async for rows in stream.partitions(batch):
                async with target.engine.begin() as writing:
                    await writing.execute(table.insert(), [dict(row._mapping) for row in rows])
                done += len(rows)
                if progress:
                    progress(done, total)
    if not target.is_sqlite:
        await _reset_sequences(target)
    copied = await table_counts(target)
    wrong = {name: (rows, copied.get(name)) for name, rows in counts.items() if copied.get(name) != rows}
    if wrong:
        listed = ", ".join(f"{name} {want} → {got}" for name, (want, got) in wrong.items())
        raise CopyError(f"row counts differ after the copy: {listed}")
    return CopyReport(counts)


async def _empty(target: Database) -> None:
    async with target.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(delete(table))


def _serial(table: Table) -> str | None:
    """The integer id column a sequence numbers, if the table has one."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and isinstance(keys[0].type, Integer) and keys[0].autoincrement in (True, "auto"):
        return keys[0].name
    return None


async def _reset_sequences(target: Database) -> None:
    """Each id sequence continues after the largest id copied (PostgreSQL)."""
    prefix = f'"{target.schema}".' if target.schema else ""
    async with target.engine.begin() as connection:
        for table in metadata.sorted_tables:
            column = _serial(table)
            if column is None:
                continue
            sequence = (await connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": f'{prefix}"{table.name}"', "column": column},
            )).scalar_one_or_none()
            if sequence is None:
                continue
            largest = (await connection.execute(select(func.max(table.c[column])))).scalar_one_or_none()
            await connection.execute(text("SELECT setval(:sequence, :value, :called)"),
                                     {"sequence": sequence, "value": largest or 1, "called": largest is not None})
