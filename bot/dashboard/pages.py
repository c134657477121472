"""The dashboard's pages: the overview (the /stats figures with charts), the memo table (filter, pages, DOCX, mark
signed, each memo's audit trail) and the contact requests table (filter, pages, time to answer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from bot.dashboard.routes import Visit, page, redirect, render
from handlers.i18n import Translator
from handlers.memos import load_document, mark_signed
from handlers.messages import DocumentRef
from handlers.stats import duration
from models import parse
from models.charts import Panel, bar_svg
from models.clock import TIMEZONE
from models.errors import NotAuthorised, StaleAction
from models.memos import Memo
from models.requests import ContactRequest
from models.stats import Stats, Week, programme_stats, weekly_trend
from models.tables import REQUEST_STATUSES, STATUSES, memo_page, request_page, trail

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Chart:
    """A chart card: its title, the SVG and the same figures as text (id, label, value)."""

    key: str
    title: str
    svg: str
    figures: list[tuple[str, str, int]]


def _chart(key: str, title: str, figures: list[tuple[str, str, int]], *, horizontal: bool = False, colour: int = 0,
           empty: str = "—") -> Chart:
    panel = Panel("", [label for _id, label, _n in figures], [n for _id, _label, n in figures], horizontal=horizontal,
                  empty=empty)
    return Chart(key, title, bar_svg(panel, colour=colour), figures)


def charts(t: Translator, stats: Stats, weeks: list[Week]) -> list[Chart]:
    empty = t("stats.none")
    week = [f"{w.start:%d/%m}" for w in weeks]
    return [
        _chart("stars", t("stats.chart.stars"), [(str(s), f"{s}★", n) for s, n in stats.products_by_stars.items()],
               empty=empty),
        _chart("groups", t("stats.chart.groups"),
               [(str(g), t(f"group.{g}"), n) for g, n in stats.products_by_group.items()], horizontal=True, colour=1,
               empty=empty),
        _chart("regions", t("dashboard.chart.product_regions"),
               [(r, r, n) for r, n in stats.products_by_region.items()], horizontal=True, colour=2, empty=empty),
        _chart("requests", t("stats.chart.requests"),
               [(s, t(f"request_status.{s}"), n) for s, n in stats.requests.items()], colour=3, empty=empty),
        _chart("memos", t("stats.chart.memos"), [(s, t(f"memo_status.{s}"), n) for s, n in stats.memos.items()],
               horizontal=True, colour=4, empty=empty),
        _chart("memo_kinds", t("dashboard.chart.memo_kinds"),
               [(k, t(f"memo_kind.{k}"), n) for k, n in stats.memos_by_kind.items()], horizontal=True, colour=1,
               empty=empty),
        _chart("signed_kinds", t("dashboard.chart.signed_kinds"),
               [(k, t(f"memo_kind.{k}"), n) for k, n in stats.signed_by_kind.items()], horizontal=True, colour=2,
               empty=empty),
        _chart("memo_events", t("dashboard.chart.memo_events"),
               [(name, name, n) for name, n in stats.memos_by_event], horizontal=True, colour=3, empty=empty),
        _chart("floor_scans", t("dashboard.chart.floor_scans"),
               [(str(f.event_id), f.name, f.scans) for f in stats.floor], horizontal=True, colour=4, empty=empty),
        _chart("floor_memos", t("dashboard.chart.floor_memos"),
               [(str(f.event_id), f.name, f.memos) for f in stats.floor], horizontal=True, colour=5, empty=empty),
        _chart("weekly_requests", t("dashboard.chart.weekly_requests"),
               [(label, label, w.requests) for label, w in zip(week, weeks, strict=True)], colour=5, empty=empty),
        _chart("weekly_signed", t("dashboard.chart.weekly_signed"),
               [(label, label, w.signed) for label, w in zip(week, weeks, strict=True)], colour=0, empty=empty),
    ]


async def overview(visit: Visit) -> web.Response:
    now = visit.services.clock.now()
    stats = await programme_stats(visit.session)
    weeks = await weekly_trend(visit.session, now)
    t = visit.t
    drawn = await asyncio.to_thread(charts, t, stats, weeks)
    rate = f"{stats.acceptance_rate:.0%}" if stats.acceptance_rate is not None else t("stats.none")
    return render(visit.request, "overview.html", visit=visit, stats=stats, charts=drawn, rate=rate,
                  median=duration(t, stats.median_response), at=f"{now.astimezone(TIMEZONE):%d/%m/%Y %H:%M}")


async def memos(visit: Visit) -> web.Response:
    query = visit.request.query
    status = query.get("status", "")
    chosen = status if status in STATUSES else None
    number = parse.canonical(query.get("page", "1")) or 1
    found = await memo_page(visit.session, chosen, number)
    return render(visit.request, "memos.html", visit=visit, found=found, chosen=chosen or "", statuses=STATUSES)


async def requests(visit: Visit) -> web.Response:
    query = visit.request.query
    status = query.get("status", "")
    chosen = status if status in REQUEST_STATUSES else None
    found = await request_page(visit.session, chosen, parse.canonical(query.get("page", "1")) or 1)
    t = visit.t

    def answered(request: ContactRequest) -> str:
        if request.answered_at is None:
            return "—"
        return duration(t, request.answered_at - request.created_at)

    return render(visit.request, "requests.html", visit=visit, found=found, chosen=chosen or "",
                  statuses=REQUEST_STATUSES, answered=answered)


async def _memo(visit: Visit) -> Memo | None:
    memo_id = parse.canonical(visit.request.match_info["id"])
    return await visit.session.get(Memo, memo_id) if memo_id is not None else None


def _not_found(visit: Visit) -> web.Response:
    return render(visit.request, "refused.html", visit=visit, status=404, title="dashboard.not_found_title",
                  message="dashboard.memo_not_found")


async def memo_detail(visit: Visit, *, notice: str = "", status: int = 200) -> web.Response:
    memo = await _memo(visit)
    if memo is None:
        return _not_found(visit)
    entries = await trail(visit.session, f"memo:{memo.id}")
    if not notice and visit.request.query.get("signed") == "1":
        notice = "dashboard.memo.signed_now"
    return render(visit.request, "memo.html", visit=visit, status=status, memo=memo, trail=entries, notice=notice)


async def sign(visit: Visit) -> web.Response:
    memo = await _memo(visit)
    if memo is None:
        return _not_found(visit)
    try:
        async with visit.session.begin_nested():  # a refusal leaves the memo as it was
            await mark_signed(visit.session, visit.user, memo.id or 0, visit.services.clock.now())
    except (StaleAction, NotAuthorised):
        await visit.session.refresh(memo)
        return await memo_detail(visit, notice="dashboard.memo.cannot_sign", status=409)
    return redirect(f"/dashboard/memos/{memo.id}?signed=1")  # a reload does not post again


async def download(visit: Visit) -> web.StreamResponse:
    memo = await _memo(visit)
    if memo is None:
        return _not_found(visit)
    name, data = await load_document(visit.services.db, DocumentRef("memo", memo.id or 0), visit.services.memo_place)
    return web.Response(body=data, content_type=DOCX, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", page(overview))
    app.router.add_get("/dashboard/memos", page(memos))
    app.router.add_get("/dashboard/requests", page(requests))
    app.router.add_get("/dashboard/memos/{id:[0-9]+}", page(memo_detail))
    app.router.add_post("/dashboard/memos/{id:[0-9]+}/sign", page(sign, post=True))
    app.router.add_get("/dashboard/memos/{id:[0-9]+}.docx", page(download))
