"""/stats: the programme in figures for admins, as a short text and a PNG chart sent as a photo."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handlers.admin import require_admin
from handlers.context import Context
from handlers.i18n import Translator
from handlers.messages import Attachment, Reply
from models.certificates import EXPIRING_DAYS, certificate_counts
from models.charts import Panel, bar_panels_png
from models.clock import TIMEZONE
from models.meetings import meeting_counts
from models.stats import Stats, programme_stats

TOP = 5  # provinces and events named in the text
CHART_EVENTS = 6


def duration(t: Translator, value: timedelta | None) -> str:
    if value is None:
        return t("stats.none")
    hours = value.total_seconds() / 3600
    if hours < 48:
        return t("stats.hours", hours=f"{hours:.1f}")
    return t("stats.days", days=f"{hours / 24:.1f}")


def _listing(pairs: list[tuple[str, int]] | dict[str, int], t: Translator, limit: int = TOP) -> str:
    items = list(pairs.items() if isinstance(pairs, dict) else pairs)
    if not items:
        return t("stats.none")
    shown = ", ".join(f"{name} {n}" for name, n in items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def summary(t: Translator, stats: Stats, day: str) -> str:
    requests, memos = stats.requests, stats.memos
    return t(
        "stats.summary",
        date=day,
        products=stats.products,
        stars=" · ".join(f"{stars}★ {n}" for stars, n in stats.products_by_stars.items()) or t("stats.none"),
        potential=stats.potential_5,
        groups=", ".join(f"{t(f'group.{group}')} {n}" for group, n in stats.products_by_group.items()),
        catalogue_producers=stats.producers_in_catalogue,
        buyers=stats.buyers,
        producers=stats.producers,
        requests=stats.request_total,
        pending=requests["pending"],
        accepted=requests["accepted"],
        declined=requests["declined"],
        expired=requests["expired"],
        rate=f"{stats.acceptance_rate:.0%}" if stats.acceptance_rate is not None else t("stats.none"),
        median=duration(t, stats.median_response),
        memos=stats.memo_total,
        memo_statuses=", ".join(f"{t(f'memo_status.{status}')} {n}" for status, n in memos.items() if n)
        or t("stats.none"),
        regions=_listing(stats.memos_by_region, t, limit=len(stats.memos_by_region) or 1),
        provinces=_listing(stats.memos_by_province, t),
        events=_listing(stats.memos_by_event, t),
    )


def kinds(t: Translator, stats: Stats) -> str:
    """Memos by kind (signed of drafted), and by event and kind, as Hanoi's events report them."""
    by_kind = " · ".join(
        t("stats.kind_count", kind=t(f"memo_kind.{kind}"), signed=stats.signed_by_kind.get(kind, 0), made=n)
        for kind, n in stats.memos_by_kind.items()
    )
    by_event = "; ".join(
        f"{name}: " + ", ".join(f"{t(f'memo_kind.{kind}')} {n}" for kind, n in counts.items() if n)
        for name, counts in stats.kinds_by_event[:TOP]
        if any(counts.values())
    )
    return t("stats.kinds", kinds=by_kind, events=by_event or t("stats.none"))


def floor(t: Translator, stats: Stats) -> str:
    """What the booths' QR codes brought, per event: scans, people, requests, memos, the busiest booths."""
    lines = []
    for figures in stats.floor[:TOP]:
        line = t("stats.floor_event", event=figures.name, scans=figures.scans, people=figures.people,
                 requests=figures.requests, memos=figures.memos)
        if figures.booths:
            line += " — " + t("stats.floor_booths", booths=_listing(figures.booths, t, limit=3))
        lines.append(line)
    return t("stats.floor", memos=stats.floor_memos, events="\n".join(lines) or t("stats.none"))


def panels(t: Translator, stats: Stats) -> list[Panel]:
    empty = t("stats.none")
    events = stats.memos_by_event[:CHART_EVENTS]
    return [
        Panel(t("stats.chart.stars"), [f"{s}★" for s in stats.products_by_stars],
              list(stats.products_by_stars.values()), empty=empty),
        Panel(t("stats.chart.groups"), [t(f"group.{g}") for g in stats.products_by_group],
              list(stats.products_by_group.values()), horizontal=True, empty=empty),
        Panel(t("stats.chart.requests"), [t(f"request_status.{s}") for s in stats.requests],
              list(stats.requests.values()), empty=empty),
        Panel(t("stats.chart.memos"), [t(f"memo_status.{s}") for s in stats.memos],
              list(stats.memos.values()), horizontal=True, empty=empty),
        Panel(t("stats.chart.regions"), list(stats.memos_by_region), list(stats.memos_by_region.values()),
              horizontal=True, empty=empty),
        Panel(t("stats.chart.events"), [name for name, _n in events], [n for _name, n in events],
              horizontal=True, empty=empty),
    ]


async def show(ctx: Context, _arg: str = "") -> None:
    require_admin(ctx)
    stats = await programme_stats(ctx.session)
    local = ctx.now.astimezone(TIMEZONE)
    text = summary(ctx.t, stats, f"{local:%d/%m/%Y %H:%M}") + "\n" + kinds(ctx.t, stats) + "\n" + floor(ctx.t, stats)
    certificates = await certificate_counts(ctx.session, local.date())
    text += "\n" + ctx.t(
        "stats.certificates", expiring=certificates.expiring, days=EXPIRING_DAYS, expired=certificates.expired
    )
    meetings = await meeting_counts(ctx.session)
    text += "\n" + ctx.t("stats.meetings", held=meetings.held, no_show=meetings.no_show, memos=meetings.memos,
                         per_meeting=f"{meetings.memos_per_meeting:.2f}", booked=meetings.booked)
    photo: str | Attachment = ""
    if ctx.capabilities.documents:  # a channel that can take files we make (see handlers.render)
        title = ctx.t("stats.chart.title", date=f"{local:%d/%m/%Y}")
        png = await asyncio.to_thread(bar_panels_png, title, panels(ctx.t, stats))
        photo = Attachment(f"ocop-stats-{local:%Y%m%d-%H%M}.png", png, "image/png")
    ctx.send(Reply(text, photo=photo))
