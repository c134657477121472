"""The dashboard's Events page: every event with its registrations and memos; one event's registrants, memos,
meeting grid per table (read-only) and counters (refreshing themselves while it runs); and the office's exports
(XLSX or CSV, audited like /export)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.dashboard.routes import Visit, page, render
from handlers.events import dates_text, theme_text
from handlers.exports import export_for
from handlers.meetings import slot_label
from models import parse
from models.errors import NotAuthorised
from models.events import Event, all_events, event_stats, local_day
from models.exports import ExportFormat, ExportKind
from models.meetings import grid_of, grid_rows, meeting_counts
from models.tables import event_registrants, memo_page

LIVE_SECONDS = 30


async def events(visit: Visit) -> web.Response:
    today = local_day(visit.services.clock.now())
    rows = [(event, registered, await event_stats(visit.session, event.id or 0))
            for event, registered in await all_events(visit.session)]
    return render(visit.request, "events.html", visit=visit, rows=rows, today=today, dates=dates_text,
                  theme=lambda event: theme_text(visit.t, event.theme), kinds=tuple(ExportKind),
                  formats=tuple(ExportFormat))


async def event_detail(visit: Visit) -> web.Response:
    event_id = parse.canonical(visit.request.match_info["id"])
    event = await visit.session.get(Event, event_id) if event_id is not None else None
    if event is None:
        return render(visit.request, "refused.html", visit=visit, status=404, title="dashboard.not_found_title",
                      message="dashboard.event_not_found")
    today = local_day(visit.services.clock.now())
    number = parse.canonical(visit.request.query.get("page", "1")) or 1
    return render(visit.request, "event.html", visit=visit, event=event, today=today, dates=dates_text(event),
                  theme=theme_text(visit.t, event.theme), stats=await event_stats(visit.session, event.id or 0),
                  meetings=await meeting_counts(visit.session, event.id or 0),
                  grid=await meeting_grid(visit, event.id or 0),
                  registrants=await event_registrants(visit.session, event.id or 0),
                  found=await memo_page(visit.session, None, number, event_id=event.id),
                  refresh=LIVE_SECONDS if event.is_running(today) else 0)


@dataclass(frozen=True)
class GridCell:
    meeting_id: int
    buyer: str
    producer: str
    status: str


@dataclass(frozen=True)
class GridView:
    """The event's meetings per table, read-only: a column per table, a row per slot."""

    tables: list[str]
    rows: list[tuple[str, list[GridCell | None]]]


async def meeting_grid(visit: Visit, event_id: int) -> GridView | None:
    if await grid_of(visit.session, event_id) is None:
        return None
    slots, tables, cells = await grid_rows(visit.session, event_id)
    names = [table.name or visit.t("meeting.table", n=table.number) for table in tables]
    rows = []
    for slot in slots:
        row: list[GridCell | None] = []
        for table in tables:
            view = cells.get((slot.id or 0, table.id or 0))
            row.append(GridCell(view.meeting.id or 0, view.buyer_company, view.producer.name, view.meeting.status)
                       if view else None)
        rows.append((slot_label(slot), row))
    return GridView(names, rows)


async def download(visit: Visit) -> web.Response:
    try:
        kind = ExportKind(visit.form.get("kind", ""))
        fmt = ExportFormat(visit.form.get("format", ""))
    except ValueError:
        return render(visit.request, "refused.html", visit=visit, status=422, title="dashboard.stale_title",
                      message="dashboard.stale_form")
    try:
        made = await export_for(visit.session, visit.user, kind, fmt, visit.services.clock.now(), visit.t)
    except NotAuthorised:
        return render(visit.request, "refused.html", visit=visit, status=403, title="dashboard.session_title",
                      message="dashboard.session_expired")
    return web.Response(body=made.data, content_type=made.mime, headers={
        "Content-Disposition": f'attachment; filename="{made.filename}"', "Cache-Control": "private, no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard/events", page(events))
    app.router.add_get("/dashboard/events/{id:[0-9]+}", page(event_detail))
    app.router.add_post("/dashboard/exports", page(download, post=True))
