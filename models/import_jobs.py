"""Catalogue files admins send in a chat, imported by a background job instead of in the message's transaction.

The file is kept (models/stored_files.py) and a job row written in the transaction of the message that brought
it. A worker of any process claims a due job with a lease — an atomic UPDATE of ``claimed_by``/``claimed_until``
that only one worker can win, on SQLite and on PostgreSQL alike — and renews it in the transaction of every batch
it writes, where it also records its progress. A job whose worker died is claimed again once the lease has run
out and resumes after its last batch (imports are idempotent, so a batch done twice changes nothing). The last
transaction marks the job finished and deletes the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, ColumnElement, ForeignKey, Integer, event, or_, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.admin import require_admin
from models.audit import record
from models.catalog_import import ImportReport
from models.db import UTCDateTime
from models.people import User
from models.stored_files import StoredFile, load, store

log = logging.getLogger(__name__)

FILE_TTL = timedelta(days=14)  # a job not run by then finds its file gone
LEASE = timedelta(minutes=5)  # a worker that has not written a batch for this long is taken for dead
MAX_ATTEMPTS = 5  # runs that ended in an unexpected error before the job is given up
RETRY_AFTER = timedelta(minutes=1)  # times the number of attempts: the wait before a failed job runs again
_MIME = "application/octet-stream"


class Outcome(StrEnum):
    DONE = "done"  # imported; the row report was sent
    REFUSED = "refused"  # the file as a whole could not be imported; nothing was written
    FAILED = "failed"  # given up after MAX_ATTEMPTS unexpected errors; the batches written before stay


class LeaseLost(Exception):
    """Another worker has the job now (this one was too slow to renew its lease): stop without writing."""


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int = Field(foreign_key="app_user.id", index=True)
    filename: str = Field(max_length=200)
    file_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("stored_file.id", ondelete="SET NULL"), nullable=True)
    )
    today: date  # the day the file arrived: decision dates are checked against it, whenever the job runs
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_by: str = Field(default="", max_length=100)  # the worker holding the lease; "" when nobody does
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    attempts: int = 0
    rows_done: int = 0  # data rows written by the batches committed so far
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    producers_created: int = 0
    producers_updated: int = 0
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))
    outcome: str = Field(default="", max_length=16)  # Outcome, once finished
    detail: str = Field(default="", max_length=500)  # the last error, or the summary once finished

    def progress(self) -> ImportReport:
        """What the batches committed so far did: where a resumed run starts."""
        return ImportReport(**{name: getattr(self, name) for name in _COUNTS})


_COUNTS = (
    "rows_done", "products_created", "products_updated", "products_unchanged", "producers_created",
    "producers_updated",
)
_wakers: set[Callable[[], None]] = set()


def on_queued(wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` whenever a transaction that queued a job commits in this process; returns the unsubscribe."""
    _wakers.add(wake)
    return lambda: _wakers.discard(wake)


async def queue(
    session: AsyncSession, admin: User, filename: str, data: bytes, today: date, now: datetime
) -> ImportJob:
    """Keep the file and queue its import, in the caller's transaction; the workers are woken once it commits."""
    require_admin(admin)
    assert admin.id is not None
    stored = await store(session, filename, _MIME, data, now, FILE_TTL)
    job = ImportJob(admin_id=admin.id, filename=stored.filename, file_id=stored.id, today=today, created_at=now)
    session.add(job)
    await session.flush()
    event.listen(session.sync_session, "after_commit", _wake_all, once=True)
    return job


def _wake_all(_session: object) -> None:
    for wake in list(_wakers):
        wake()


def _due(now: datetime) -> list[ColumnElement[bool]]:
    """Not finished, and nobody's lease nor a retry wait running."""
    return [
        col(ImportJob.finished_at).is_(None),
        or_(col(ImportJob.claimed_until).is_(None), col(ImportJob.claimed_until) < now),
    ]


async def claim(session: AsyncSession, worker: str, now: datetime) -> ImportJob | None:
    """The oldest due job (never claimed, or its lease or retry wait over), now leased to ``worker``."""
    query = select(ImportJob.id).where(*_due(now)).order_by(col(ImportJob.id)).limit(10)
    candidates = (await session.exec(query)).all()
    for job_id in candidates:
        won = await session.exec(  # type: ignore[call-overload]
            update(ImportJob)
            .where(col(ImportJob.id) == job_id, *_due(now))
            .values(claimed_by=worker, claimed_until=now + LEASE, attempts=col(ImportJob.attempts) + 1)
        )
        if won.rowcount == 1:
            return await session.get(ImportJob, job_id, populate_existing=True)
    return None


async def _mine(session: AsyncSession, job_id: int, worker: str, **values: object) -> None:
    """Update the job while ``worker`` still holds it; LeaseLost otherwise."""
    held = await session.exec(  # type: ignore[call-overload]
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, ImportJob.claimed_by == worker, col(ImportJob.finished_at).is_(None))
        .values(**values)
    )
    if held.rowcount != 1:
        raise LeaseLost(f"import job {job_id} is no longer held by {worker}")


async def checkpoint(session: AsyncSession, job_id: int, worker: str, report: ImportReport, now: datetime) -> None:
    """Record the progress in a batch's transaction and renew the lease (LeaseLost undoes the batch)."""
    await _mine(session, job_id, worker, claimed_until=now + LEASE, **{name: getattr(report, name) for name in _COUNTS})


async def file_data(session: AsyncSession, job: ImportJob, now: datetime) -> bytes | None:
    """The job's file; None when it is gone (kept longer than FILE_TTL)."""
    stored = await load(session, job.file_id, now) if job.file_id is not None else None
    return stored.data if stored is not None else None


async def finish(
    session: AsyncSession, job: ImportJob, worker: str, outcome: Outcome, detail: str, now: datetime
) -> None:
    """Mark the job finished, delete its file and audit the import (LeaseLost when another worker has it)."""
    await _mine(session, job.id or 0, worker, finished_at=now, outcome=outcome.value, detail=detail[:500],
                claimed_by="", claimed_until=None)
    record(session, job.admin_id, "catalog.import", job.filename, now, f"{outcome.value}: {detail}")
    if job.file_id is not None:
        stored = await session.get(StoredFile, job.file_id)
        if stored is not None:
            await session.delete(stored)


async def release(session: AsyncSession, job: ImportJob, worker: str, now: datetime, *, error: str = "") -> None:
    """Give the job back: at once when the worker is stopping (``error`` empty; the run is not counted), after
    RETRY_AFTER × attempts when it failed with ``error``."""
    if error:
        await _mine(session, job.id or 0, worker, claimed_by="", claimed_until=now + RETRY_AFTER * job.attempts,
                    detail=error[:500])
    else:
        await _mine(session, job.id or 0, worker, claimed_by="", claimed_until=None,
                    attempts=col(ImportJob.attempts) - 1)
