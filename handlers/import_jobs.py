"""Running the catalogue imports admins send in a chat (the jobs of models/import_jobs.py): the file is imported in
batches off the event loop, and the row report — or why the file was refused — is queued for the admin as a
notification in the job's last transaction, so it is sent once however the run ended.

A file of several batches reports its progress at each quarter, queued in the transaction of the batch that passed
it: one message edited as it goes where the channel edits messages (Telegram), a message a quarter elsewhere."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.catalog_admin import explain, import_report
from handlers.context import Services, notify
from handlers.i18n import Translator
from handlers.messages import Reply
from models.catalog_import import ImportFileError, ImportInterrupted, ImportReport, ProgressHook, import_rows
from models.errors import ImportProblem
from models.import_jobs import (
    MAX_ATTEMPTS,
    ImportJob,
    LeaseLost,
    Outcome,
    checkpoint,
    claim,
    file_data,
    finish,
    release,
)
from models.people import User
from models.tabular import UnreadableFile, read_bytes

log = logging.getLogger(__name__)


async def run_next(
    services: Services,
    worker: str,
    *,
    stopping: Callable[[], bool] = lambda: False,
    after_batch: ProgressHook | None = None,
) -> bool:
    """Claim the oldest due job and run it to its end; False when no job was due.

    When ``stopping`` turns true the run stops at the next batch and the job is given back at once, to be
    resumed by the next worker; an unexpected error gives it back for a later retry, until MAX_ATTEMPTS."""
    async with services.db.transaction() as session:
        job = await claim(session, worker, services.clock.now())
    if job is None:
        return False
    try:
        await _run(services, job, worker, stopping, after_batch)
    except LeaseLost:
        log.warning("import job %s was taken over by another worker", job.id)
    except ImportInterrupted:
        async with services.db.transaction() as session:
            await release(session, job, worker, services.clock.now())
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("import job %s failed (attempt %s, error %s)", job.id, job.attempts, error_id)
        async with services.db.transaction() as session:
            if job.attempts < MAX_ATTEMPTS:
                await release(session, job, worker, services.clock.now(), error=f"error {error_id}")
            else:
                await _end(session, services, job, worker, Outcome.FAILED, f"error {error_id}",
                           lambda t: t("import.job_failed", name=job.filename, id=error_id))
    return True


async def _run(
    services: Services, job: ImportJob, worker: str, stopping: Callable[[], bool], after_batch: ProgressHook | None
) -> None:
    async with services.db.session() as session:
        data = await file_data(session, job, services.clock.now())
    try:
        if data is None:
            raise UnreadableFile("file_gone")
        report = await import_rows(
            services.db,
            read_bytes(data, job.filename),
            today=job.today,
            resume=job.progress(),
            in_batch=_progress_reports(services, job, worker),
            after_batch=after_batch,
            stop=stopping,
        )
    except (UnreadableFile, ImportFileError) as problem:
        async with services.db.transaction() as session:
            await _end(session, services, job, worker, Outcome.REFUSED, str(problem), _refusal(job.filename, problem))
        return
    summary = (f"{report.rows} rows, {report.products_created} new, {report.products_updated} updated, "
               f"{len(report.errors)} errors")
    async with services.db.transaction() as session:
        await _end(session, services, job, worker, Outcome.DONE, summary,
                   lambda t: import_report(t, job.filename, report))


QUARTERS = 4


def _progress_reports(
    services: Services, job: ImportJob, worker: str
) -> Callable[[AsyncSession, ImportReport], Awaitable[None]]:
    """The work of each batch's transaction: the job's checkpoint, and a progress report when a quarter is passed
    (not the last: the row report follows; a resumed job goes on from the quarter it had reached)."""
    shown: int | None = None

    async def in_batch(session: AsyncSession, report: ImportReport) -> None:
        nonlocal shown
        await checkpoint(session, job.id or 0, worker, report, services.clock.now())
        if shown is None:
            shown = job.rows_done * QUARTERS // report.rows if report.rows else QUARTERS
        quarter = report.rows_done * QUARTERS // report.rows if report.rows else QUARTERS
        if shown < quarter < QUARTERS:
            shown = quarter
            admin = await session.get(User, job.admin_id)
            if admin is not None:
                notify(session, admin, lambda t: Reply(
                    t("import.progress", name=job.filename, done=report.rows_done, rows=report.rows,
                      percent=report.rows_done * 100 // report.rows),
                    progress=f"import:{job.id}",
                ))

    return in_batch


def _refusal(name: str, problem: ImportProblem) -> Callable[[Translator], str]:
    return lambda t: t("import.failed", name=name, reason=explain(t, problem))


async def _end(
    session: AsyncSession,
    services: Services,
    job: ImportJob,
    worker: str,
    outcome: Outcome,
    detail: str,
    text: Callable[[Translator], str],
) -> None:
    """The job's last transaction: finished (its file deleted, the import audited), and the admin told."""
    now = services.clock.now()
    await finish(session, job, worker, outcome, detail, now)
    admin = await session.get(User, job.admin_id)
    if admin is not None:
        notify(session, admin, lambda t: Reply(text(t)))

