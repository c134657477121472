"""Trade-connection events: /events for everyone (view, register as buyer or producer, withdraw); /event for
admins (new, edit, cancel, list, who registered and its export, tie a memo); the day-before reminder sent from the
channel pump."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from handlers import flow, meetings
from handlers.actions import (
    Cancel,
    CancelEvent,
    EditEvent,
    EventMeetings,
    ExportRegistrants,
    RegisterForEvent,
    ShowEvent,
    SuggestPartners,
    WithdrawFromEvent,
    positive,
)
from handlers.admin import require_admin
from handlers.context import Context, Services, notify
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin
from handlers.i18n import Translator
from handlers.messages import Attachment, Button, Reply
from models import event_export, parse
from models import events as ev
from models.errors import InvalidEvent, Stale, StaleAction
from models.events import Event, EventRole, local_day
from models.meetings import has_grid, release
from models.people import Role

THEMES = ("Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng", "Nam Bộ", "Miền Trung và Tây Nguyên")
OPTIONAL = frozenset({"deadline", "description"})
# Which step to go back to when the whole event does not check out at the end.
SHOWN_REGISTRANTS = 30  # listed in the event's view; the export has them all
STEP_OF_REASON = {"name": "name", "venue": "venue", "description": "description", "dates_order": "dates",
                  "in_past": "dates", "deadline_after_end": "deadline"}


def dates_text(event: Event) -> str:
    if event.ends_on == event.starts_on:
        return f"{event.starts_on:%d/%m/%Y}"
    return f"{event.starts_on:%d/%m/%Y} – {event.ends_on:%d/%m/%Y}"


def theme_text(t: Translator, theme: str) -> str:
    return theme or t("event.nationwide")


def detail_text(t: Translator, event: Event) -> str:
    text = t(
        "event.detail",
        name=event.name,
        theme=theme_text(t, event.theme),
        venue=event.venue,
        dates=dates_text(event),
        deadline=f"{event.register_by:%d/%m/%Y}",
    )
    if event.description:
        text += "\n\n" + event.description
    if not event.scheduled:
        text = t("event.is_cancelled") + "\n" + text
    return text


# -- everyone -----------------------------------------------------------------------------------------------------


async def list_upcoming(ctx: Context, _arg: str = "") -> None:
    """/events: events not over yet, soonest first."""
    events = await ev.upcoming(ctx.session, local_day(ctx.now))
    if not events:
        ctx.say("events.none")
        return
    lines = [f"• {event.name}\n  {dates_text(event)} — {event.venue}" for event in events]
    rows = [[Button(event.name, ShowEvent(event.id or 0).encode())] for event in events]
    ctx.say("events.list", body="\n".join(lines), buttons=rows)


async def view(ctx: Context, action: ShowEvent) -> None:
    event = await ev.get_event(ctx.session, positive(action.event))
    if not event.scheduled and not ctx.user.is_admin:
        raise StaleAction("event cancelled", Stale.GONE)
    today = local_day(ctx.now)
    parts = [detail_text(ctx.t, event)]
    rows: list[list[Button]] = []
    registration = await ev.registration_of(ctx.session, ctx.user.id or 0, event.id or 0)
    if registration is not None and event.scheduled:
        parts.append(ctx.t("event.registered_as", role=ctx.t(f"event_role.{registration.role}")))
        rows.append([ctx.button("suggest.button", SuggestPartners(event.id or 0))])
        rows.append([ctx.button("event.withdraw", WithdrawFromEvent(event.id or 0))])
    elif event.is_open(today):
        rows.append([ctx.button(f"event.register_as.{role.value}", RegisterForEvent(event.id or 0, role.value))
                     for role in _roles_for(ctx)])
    elif event.scheduled:
        parts.append(ctx.t("event.registration_closed"))
    if event.scheduled and (ctx.user.is_admin or (registration is not None and await has_grid(ctx.session,
                                                                                             event.id or 0))):
        rows.append([ctx.button("meeting.at_event", EventMeetings(event.id or 0))])
    if ctx.user.is_admin:
        parts.append(await _stats_text(ctx, event))
        parts.append(await _registrants_text(ctx, event))
        rows.append([ctx.button("event.export_registrants", ExportRegistrants(event.id or 0))])
        if event.scheduled:
            rows.append([ctx.button("event.edit", EditEvent(event.id or 0)),
                         ctx.button("event.cancel", CancelEvent(event.id or 0))])
    ctx.send(Reply("\n\n".join(parts), buttons=tuple(tuple(row) for row in rows)))


def _roles_for(ctx: Context) -> list[EventRole]:
    if ctx.user.role == Role.BUYER.value:
        return [EventRole.BUYER]
    if ctx.user.role == Role.PRODUCER.value:
        return [EventRole.PRODUCER]
    return [EventRole.BUYER, EventRole.PRODUCER]


async def register(ctx: Context, action: RegisterForEvent) -> None:
    role = action.role
    if role not in set(EventRole):
        raise StaleAction(f"bad role {role!r}")
    registration = await ev.register(ctx.session, ctx.user, positive(action.event), EventRole(role), ctx.now)
    event = await ev.get_event(ctx.session, registration.event_id)
    reminder = event.starts_on - timedelta(days=1)
    ctx.say("event.registered", name=event.name, role=ctx.t(f"event_role.{role}"), dates=dates_text(event),
            reminder=f"{reminder:%d/%m/%Y}")


async def withdraw(ctx: Context, action: WithdrawFromEvent) -> None:
    """Withdraw; the meetings booked there are cancelled and their other sides told."""
    event = await ev.get_event(ctx.session, positive(action.event))
    registration = await ev.registration_of(ctx.session, ctx.user.id or 0, event.id or 0)
    await ev.unregister(ctx.session, ctx.user, event.id or 0)
    await ctx.session.flush()
    await meetings.release_withdrawn(ctx, event.id or 0, registration.role if registration else "")
    ctx.say("event.withdrawn", name=event.name)


# -- admins: /event -----------------------------------------------------------------------------------------------


async def command(ctx: Context, arg: str) -> None:
    """/event [list] | new | edit ID | cancel ID | export ID | memo MEMO EVENT (EVENT 0 unties the memo)."""
    require_admin(ctx)
    word, _, rest = arg.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    event_id = parse.record_id(rest)
    memo_id, untie_or_event = _memo_and_event(rest)
    if word in ("", "list"):
        await _admin_list(ctx)
    elif word == "new":
        await begin(ctx, NEW_EVENT)
    elif word == "edit" and event_id is not None:
        await choose_field(ctx, EditEvent(event_id))
    elif word == "cancel" and event_id is not None:
        await _ask_cancel(ctx, event_id)
    elif word == "export" and event_id is not None:
        await export_registrants(ctx, ExportRegistrants(event_id))
    elif word == "memo" and memo_id is not None and untie_or_event is not None:
        await _attach(ctx, memo_id, untie_or_event)
    else:
        ctx.say("event.usage")


def _memo_and_event(text: str) -> tuple[int | None, int | None]:
    """"MEMO EVENT" of /event memo: two ids ("3 1" or "#3 #1"); the event 0 unties the memo."""
    parts = text.split()
    if len(parts) != 2:
        return None, None
    untie = parse.number(parts[1].removeprefix("#")) == 0
    return parse.record_id(parts[0]), 0 if untie else parse.record_id(parts[1])


async def _admin_list(ctx: Context) -> None:
    listed = await ev.all_events(ctx.session)
    if not listed:
        ctx.say("events.none")
        return
    lines = [
        f"#{event.id} {event.name} — {dates_text(event)} — {ctx.t(f'event_status.{event.status}')} — "
        + ctx.t("event.registrations", n=count)
        for event, count in listed
    ]
    rows = [[Button(f"#{event.id} {event.name}", ShowEvent(event.id or 0).encode())] for event, _count in listed]
    ctx.say("event.admin_list", body="\n".join(lines), buttons=rows)


async def _stats_text(ctx: Context, event: Event) -> str:
    stats = await ev.event_stats(ctx.session, event.id or 0)
    memos = ", ".join(f"{ctx.t(f'memo_status.{status}')} {n}" for status, n in stats.memos.items())
    return ctx.t("event.stats", buyers=stats.buyers, producers=stats.producers, memos=stats.memo_total,
                 by_status=memos or "—")


async def _registrants_text(ctx: Context, event: Event) -> str:
    people = await ev.registrant_list(ctx.session, event.id or 0)
    if not people:
        return ctx.t("event.no_registrants")
    lines = [
        f"{n}. {person.name or '?'} — {person.company or '—'} — {ctx.t(f'event_role.{person.role}')}"
        for n, person in enumerate(people[:SHOWN_REGISTRANTS], start=1)
    ]
    if len(people) > SHOWN_REGISTRANTS:
        lines.append(ctx.t("event.registrants_more", n=len(people) - SHOWN_REGISTRANTS))
    return ctx.t("event.registrants", n=len(people), body="\n".join(lines))


async def export_registrants(ctx: Context, action: ExportRegistrants) -> None:
    """Who registered, as a spreadsheet (admins only: it holds phone numbers)."""
    require_admin(ctx)
    if not ctx.capabilities.documents:
        ctx.say("export.no_files")
        return
    header = [ctx.t(f"registrants.column.{column}") for column in event_export.COLUMNS]
    made = await event_export.registrants_file(ctx.session, ctx.user, positive(action.event), ctx.now, header,
                                               lambda role: ctx.t(f"event_role.{role}"))
    ctx.send(Reply(ctx.t("event.registrants_ready", rows=made.rows),
                   document=Attachment(made.filename, made.data, made.mime)))


def _read_field(field: str) -> Callable[[Context, str], Awaitable[dict[str, str]]]:
    async def read(ctx: Context, text: str) -> dict[str, str]:
        try:
            return ev.parse_field(field, text, local_day(ctx.now))
        except InvalidEvent as invalid:
            raise Invalid(f"event.invalid.{invalid.reason}") from None

    return read


def _ask_field(field: str) -> Callable[[Context], Awaitable[Question]]:
    async def ask(ctx: Context) -> Question:
        if field == "theme":
            options = [Option(str(index), theme) for index, theme in enumerate(THEMES)]
            return Question(ctx.t("event.ask_theme"), (*options, Option("all", ctx.t("event.nationwide"))))
        return Question(ctx.t(f"event.ask.{field}"))

    return ask


def _draft(ctx: Context) -> dict[str, str]:
    """The event's values as answered so far (each step keeps what it parsed; a theme picked from the menu is
    its index)."""
    draft: dict[str, str] = {}
    for field in ev.FIELDS:
        value = ctx.state.data.get(field)
        if isinstance(value, dict):
            draft.update(value)
        elif field == "theme" and value is not None:
            index = parse.number(value, high=len(THEMES) - 1)
            draft["theme"] = THEMES[index] if index is not None else ""  # "all": nationwide
    return draft


async def _ask_confirm(ctx: Context) -> Question:
    preview = Event(**vars(ev.values_of(_draft(ctx), local_day(ctx.now))))
    text = ctx.t("event.confirm", body=detail_text(ctx.t, preview))
    return Question(text, (Option("save", ctx.t("event.save")),), cancel=True)


async def _save_new(ctx: Context) -> None:
    try:
        event = await ev.create_event(ctx.session, ctx.user, _draft(ctx), ctx.now)
    except InvalidEvent as invalid:
        step = NEW_EVENT.step(STEP_OF_REASON.get(invalid.reason, "dates"))
        assert step is not None
        ctx.state.goto(step.name)
        await flow.ask(ctx, NEW_EVENT, step, wrong=ctx.t(f"event.invalid.{invalid.reason}"))
        return
    ctx.state.leave()
    ctx.say("event.created", name=event.name, buttons=[[ctx.button("event.open", ShowEvent(event.id or 0))]])


def _steps(*, editing: bool) -> tuple[Step, ...]:
    steps = []
    for position, field in enumerate(ev.FIELDS):
        following = None if editing else (ev.FIELDS[position + 1] if position + 1 < len(ev.FIELDS) else "confirm")
        kind = Kind.CHOICE if field == "theme" else Kind.DATE if field == "deadline" else Kind.TEXT
        steps.append(Step(field, kind, _ask_field(field), read=_read_field(field), then=following,
                          skip=field in OPTIONAL and not editing, limit=ev.MAX_DESCRIPTION))
    if not editing:
        steps.append(Step("confirm", Kind.CHOICE, _ask_confirm))
    return tuple(steps)


async def choose_field(ctx: Context, action: EditEvent) -> None:
    """Which field of an event to change (the Edit button), or start changing it (a field's button)."""
    require_admin(ctx)
    event = await ev.get_event(ctx.session, positive(action.event))
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    if not action.field:
        rows = [[ctx.button(f"event.field.{name}", EditEvent(event.id or 0, name))] for name in ev.FIELDS]
        ctx.say("event.ask_field", name=event.name, buttons=rows)
        return
    if action.field not in ev.FIELDS:
        raise StaleAction(f"bad field {action.field!r}")
    await begin(ctx, EDIT_EVENT, at=action.field, event_id=event.id)


async def _save_change(ctx: Context) -> None:
    field = ctx.state.step or ""
    try:
        event = await ev.update_event(ctx.session, ctx.user, int(ctx.state.data["event_id"]), _draft(ctx), ctx.now)
    except InvalidEvent as invalid:
        step = EDIT_EVENT.step(field)
        assert step is not None
        await flow.ask(ctx, EDIT_EVENT, step, wrong=ctx.t(f"event.invalid.{invalid.reason}"))
        return
    ctx.state.leave()
    ctx.say("event.updated", name=event.name, buttons=[[ctx.button("event.open", ShowEvent(event.id or 0))]])


NEW_EVENT = flow.register(Flow("event", _steps(editing=False), done=_save_new, guard=require_admin))
EDIT_EVENT = flow.register(Flow("event_edit", _steps(editing=True), done=_save_change, guard=require_admin))


async def _ask_cancel(ctx: Context, event_id: int) -> None:
    event = await ev.get_event(ctx.session, positive(event_id))
    if not event.scheduled:
        raise StaleAction("event already cancelled", Stale.ANSWERED)
    buttons = [[ctx.button("event.cancel_confirm", CancelEvent(event.id or 0, "yes")),
                ctx.button("event.keep", Cancel())]]
    ctx.say("event.cancel_ask", name=event.name, dates=dates_text(event), buttons=buttons)


async def cancel_button(ctx: Context, action: CancelEvent) -> None:
    """The Cancel button asks to confirm; the confirmation button carries "yes"."""
    require_admin(ctx)
    if action.confirmed != "yes":
        await _ask_cancel(ctx, action.event)
        return
    event, users = await ev.cancel_event(ctx.session, ctx.user, positive(action.event), ctx.now)
    await release(ctx.session, event.id or 0, ctx.now)  # everyone is told the event is cancelled, just below
    for user in users:
        ctx.notify(user, lambda t: Reply(t("event.cancelled_notice", name=event.name, dates=dates_text(event))))
    ctx.say("event.cancelled", name=event.name, n=len(users))


async def _attach(ctx: Context, memo_id: int, event_id: int) -> None:
    memo = await ev.attach_memo(ctx.session, ctx.user, memo_id, event_id or None, ctx.now)
    if memo.event_id is None:
        ctx.say("event.memo_detached", memo=memo_id)
    else:
        event = await ev.get_event(ctx.session, memo.event_id)
        ctx.say("event.memo_attached", memo=memo_id, name=event.name)


# -- the reminder -------------------------------------------------------------------------------------------------


async def send_reminders(services: Services) -> int:
    """Queue the day-before reminders that are due (once each, durably); returns how many."""
    async with services.db.transaction() as session:
        due = await ev.due_reminders(session, services.clock.now())
        for event, user in due:
            notify(session, user, lambda t, e=event: _reminder(t, e))
    return len(due)


def _reminder(t: Translator, event: Event) -> Reply:
    text = t("event.reminder", name=event.name, dates=dates_text(event), venue=event.venue)
    return Reply(text, buttons=((Button(t("event.open"), ShowEvent(event.id or 0).encode()),),))
