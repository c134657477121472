"""The dashboard's Broadcasts page: the latest broadcasts with their progress (the page refreshes itself while one
is being sent) and Stop, through the domain's cancel (audited), as /broadcast cancel does in a chat."""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.routes import Visit, page, redirect, render
from handlers.broadcast import describe_audience, duration
from models import broadcasts as bc
from models import parse
from models.errors import NotAuthorised, StaleAction

SHOWN = 20
REFRESH_SECONDS = 5


async def broadcasts(visit: Visit, *, notice: str = "", status: int = 200) -> web.Response:
    now = visit.services.clock.now()
    t = visit.t
    rows = []
    for broadcast in await bc.recent_broadcasts(visit.session, SHOWN):
        done = await bc.progress(visit.session, broadcast)
        try:
            audience = await describe_audience(t, visit.session, bc.Audience.parse(broadcast.audience))
        except (StaleAction, ValueError):  # an event or a place no longer there
            audience = broadcast.audience
        eta = done.eta(now)
        rows.append((broadcast, done, audience, duration(t, eta) if eta is not None else ""))
    live = any(done.status == bc.BroadcastStatus.SENDING.value for _b, done, _a, _e in rows)
    if not notice and (stopped := parse.canonical(visit.request.query.get("stopped", ""))) is not None:
        notice = t("dashboard.broadcast.stopped", number=stopped)
    return render(visit.request, "broadcasts.html", visit=visit, status=status, rows=rows, notice=notice,
                  refresh=REFRESH_SECONDS if live else 0)


async def stop(visit: Visit) -> web.Response:
    broadcast_id = parse.canonical(visit.request.match_info["id"])
    try:
        async with visit.session.begin_nested():  # a refusal leaves everything as it was
            await bc.cancel_broadcast(visit.session, visit.user, broadcast_id or 0, visit.services.clock.now())
    except (StaleAction, NotAuthorised):
        return await broadcasts(visit, notice=visit.t("dashboard.broadcast.cannot_stop"), status=409)
    return redirect(f"/dashboard/broadcasts?stopped={broadcast_id}")  # a reload does not post again


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard/broadcasts", page(broadcasts))
    app.router.add_post("/dashboard/broadcasts/{id:[0-9]+}/stop", page(stop, post=True))
