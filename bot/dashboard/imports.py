"""Importing a catalogue list from the dashboard: the file is uploaded and checked first (a dry run of the very
import the chat runs: the same row report, nothing written); "Apply" then queues it as a file sent in a chat is
queued (models.import_jobs), and the report of the real import comes to the admin's chat.

The upload is read as a stream up to the importer's own limit (models.tabular.MAX_FILE_BYTES); the previewed file
is kept an hour for the Apply button."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import BodyPartReader, web
from sqlalchemy import delete
from sqlmodel import col

from bot.dashboard.routes import COOKIE, SERVICES, Visit, page, refusal, render
from handlers.catalog_admin import explain, import_report
from models import parse
from models.catalog_import import import_data
from models.clock import TIMEZONE
from models.dashboard import csrf_ok, current
from models.errors import ImportProblem
from models.import_jobs import queue
from models.stored_files import StoredFile, load, store
from models.tabular import MAX_FILE_BYTES, read_bytes

PREVIEW_KEPT = timedelta(hours=1)
PREVIEW_MIME = "application/x-ocop-import-preview"  # only such files can be applied
MAX_NAME = 200


async def import_form(visit: Visit) -> web.Response:
    return render(visit.request, "import.html", visit=visit, limit=MAX_FILE_BYTES // (1024 * 1024), error="",
                  report=None)


async def _read(request: web.Request) -> tuple[dict[str, str], str, bytes | None]:
    """The form's text fields, the file's name and its bytes (None when larger than the limit)."""
    fields: dict[str, str] = {}
    name, data = "", b""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            name = parse.plain(part.filename or "")[:MAX_NAME]
            chunks, size = [], 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    return fields, name, None
                chunks.append(chunk)
            data = b"".join(chunks)
        elif part.name in ("csrf",):
            fields[part.name] = (await part.read(decode=True))[:200].decode(errors="replace")
    return fields, name, data


async def upload(request: web.Request) -> web.Response:
    """Check a file: its row report, and an Apply button. Nothing in the catalogue changes here."""
    services = request.app[SERVICES]
    now = services.clock.now()
    async with services.db.transaction() as session:  # before reading a byte of the file
        found = await current(session, request.cookies.get(COOKIE, ""), now)
    if found is None:
        return refusal(request, "dashboard.session_title", "dashboard.session_expired", 401)
    if not request.content_type.startswith("multipart/"):
        return refusal(request, "dashboard.stale_title", "dashboard.stale_form", 403)
    fields, name, data = await _read(request)
    if not csrf_ok(found[0], fields.get("csrf", "")):
        return refusal(request, "dashboard.stale_title", "dashboard.stale_form", 403)
    visit = Visit(request, session, found[0], found[1], services, fields)
    t, limit = visit.t, MAX_FILE_BYTES // (1024 * 1024)

    def refused(error: str) -> web.Response:
        return render(request, "import.html", visit=visit, status=422, limit=limit, error=error, report=None)

    if data is None or not data:
        return refused(t("import.no_data", name=name or "—", limit=limit))
    try:
        read_bytes(data, name)
        report = await import_data(services.db, data, name, dry_run=True, today=now.astimezone(TIMEZONE).date())
    except ImportProblem as problem:
        return refused(t("import.failed", name=name, reason=explain(t, problem)))
    async with services.db.transaction() as session:
        kept = await store(session, name, PREVIEW_MIME, data, now, PREVIEW_KEPT)
    return render(request, "import.html", visit=visit, limit=limit, error="", report=report, name=name,
                  file_id=kept.id, lines=import_report(t, name, report).split("\n"))


async def apply(visit: Visit) -> web.Response:
    """Queue the previewed file's import, as a file sent in a chat is queued."""
    now = visit.services.clock.now()
    file_id = parse.canonical(visit.form.get("file", ""))
    kept = await load(visit.session, file_id, now) if file_id is not None else None
    if kept is None or kept.mime != PREVIEW_MIME or not await _take(visit, kept.id or 0):
        return render(visit.request, "import.html", visit=visit, status=409, limit=MAX_FILE_BYTES // (1024 * 1024),
                      error=visit.t("dashboard.import.gone"), report=None)
    await queue(visit.session, visit.user, kept.filename, kept.data, now.astimezone(TIMEZONE).date(), now)
    return render(visit.request, "import.html", visit=visit, limit=MAX_FILE_BYTES // (1024 * 1024), error="",
                  report=None, queued=kept.filename)


async def _take(visit: Visit, file_id: int) -> bool:
    """Remove the previewed copy; only the request that removed it goes on (a file is applied once)."""
    taken = await visit.session.exec(delete(StoredFile).where(col(StoredFile.id) == file_id))  # type: ignore[call-overload]
    return bool(taken.rowcount == 1)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard/import", page(import_form))
    app.router.add_post("/dashboard/import", upload)
    app.router.add_post("/dashboard/import/apply", page(apply, post=True))
