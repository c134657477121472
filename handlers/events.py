"""Trade-connection events: /events for everyone (view, register as buyer or producer, withdraw); /event for
admins (new, edit, cancel, list, tie a memo); the day-before reminder sent from the channel pump."""

from __future__ import annotations

from datetime import timedelta

from handlers.admin import require_admin
from handlers.context import Context, Services, notify, parse_id, parse_index
from handlers.i18n import Translator
from handlers.messages import Button, Reply
from models import events as ev
from models.errors import InvalidEvent, StaleAction
from models.events import Event, EventRole, local_day
from models.people import Role

FLOW = "event"
THEMES = ("Trung du và miền núi phía Bắc", "Đồng bằng sông Hồng", "Nam Bộ", "Miền Trung và Tây Nguyên")
NEW_STEPS = ("name", "theme", "venue", "dates", "deadline", "description", "confirm")
OPTIONAL = frozenset({"deadline", "description"})
# Which step to go back to when the whole event does not check out at the end.
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
    rows = [[Button(event.name[:60], f"ev:{event.id}")] for event in events]
    ctx.say("events.list", body="\n".join(lines), buttons=rows)


async def view(ctx: Context, arg: str) -> None:
    event = await ev.get_event(ctx.session, parse_id(arg))
    if not event.scheduled and not ctx.user.is_admin:
        raise StaleAction("event cancelled")
    today = local_day(ctx.now)
    parts = [detail_text(ctx.t, event)]
    rows: list[list[Button]] = []
    registration = await ev.registration_of(ctx.session, ctx.user.id or 0, event.id or 0)
    if registration is not None and event.scheduled:
        parts.append(ctx.t("event.registered_as", role=ctx.t(f"event_role.{registration.role}")))
        rows.append([ctx.button("event.withdraw", f"eu:{event.id}")])
    elif event.is_open(today):
        rows.append([ctx.button(f"event.register_as.{role.value}", f"er:{event.id}:{role.value}")
                     for role in _roles_for(ctx)])
    elif event.scheduled:
        parts.append(ctx.t("event.registration_closed"))
    if ctx.user.is_admin:
        parts.append(await _stats_text(ctx, event))
        if event.scheduled:
            rows.append([ctx.button("event.edit", f"ef:{event.id}"), ctx.button("event.cancel", f"ex:{event.id}")])
    ctx.send(Reply("\n\n".join(parts), buttons=tuple(tuple(row) for row in rows)))


def _roles_for(ctx: Context) -> list[EventRole]:
    if ctx.user.role == Role.BUYER.value:
        return [EventRole.BUYER]
    if ctx.user.role == Role.PRODUCER.value:
        return [EventRole.PRODUCER]
    return [EventRole.BUYER, EventRole.PRODUCER]


async def register(ctx: Context, arg: str) -> None:
    event_id, _, role = arg.partition(":")
    if role not in set(EventRole):
        raise StaleAction(f"bad role {role[:20]!r}")
    registration = await ev.register(ctx.session, ctx.user, parse_id(event_id), EventRole(role), ctx.now)
    event = await ev.get_event(ctx.session, registration.event_id)
    reminder = event.starts_on - timedelta(days=1)
    ctx.say("event.registered", name=event.name, role=ctx.t(f"event_role.{role}"), dates=dates_text(event),
            reminder=f"{reminder:%d/%m/%Y}")


async def withdraw(ctx: Context, arg: str) -> None:
    event = await ev.get_event(ctx.session, parse_id(arg))
    await ev.unregister(ctx.session, ctx.user, event.id or 0)
    ctx.say("event.withdrawn", name=event.name)


# -- admins: /event -----------------------------------------------------------------------------------------------


async def command(ctx: Context, arg: str) -> None:
    """/event [list] | new | edit ID | cancel ID | memo MEMO EVENT (EVENT 0 unties the memo)."""
    require_admin(ctx)
    word, _, rest = arg.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    if word in ("", "list"):
        await _admin_list(ctx)
    elif word == "new":
        ctx.state.enter(FLOW, "name")
        _ask(ctx, "name")
    elif word == "edit" and rest.isdigit():
        await choose_field(ctx, rest)
    elif word == "cancel" and rest.isdigit():
        await _ask_cancel(ctx, rest)
    elif word == "memo" and len(rest.split()) == 2 and all(part.isdigit() for part in rest.split()):
        await _attach(ctx, *(int(part) for part in rest.split()))
    else:
        ctx.say("event.usage")


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
    rows = [[Button(f"#{event.id} {event.name[:50]}", f"ev:{event.id}")] for event, _count in listed]
    ctx.say("event.admin_list", body="\n".join(lines), buttons=rows)


async def _stats_text(ctx: Context, event: Event) -> str:
    stats = await ev.event_stats(ctx.session, event.id or 0)
    memos = ", ".join(f"{ctx.t(f'memo_status.{status}')} {n}" for status, n in stats.memos.items())
    return ctx.t("event.stats", buyers=stats.buyers, producers=stats.producers, memos=stats.memo_total,
                 by_status=memos or "—")


def _ask(ctx: Context, step: str) -> None:
    editing = "event_id" in ctx.state.data
    if step == "theme":
        rows = [[Button(theme, f"et:{index}")] for index, theme in enumerate(THEMES)]
        ctx.say("event.ask_theme", buttons=[*rows, [ctx.button("event.nationwide", "et:all")]])
    elif step in OPTIONAL and not editing:
        ctx.say(f"event.ask.{step}", buttons=[[ctx.button("flow.skip", "es:skip")]])
    elif step == "confirm":
        values = ev.values_of(ctx.state.data, local_day(ctx.now))
        preview = Event(**vars(values))
        buttons = [[ctx.button("event.save", "es:save"), ctx.button("flow.cancel", "cancel")]]
        ctx.say("event.confirm", body=detail_text(ctx.t, preview), buttons=buttons)
    else:
        ctx.say(f"event.ask.{step}")


async def on_text(ctx: Context, text: str) -> None:
    step = ctx.state.step or ""
    if step not in ev.FIELDS:
        ctx.say("flow.use_buttons")
        return
    try:
        values = ev.parse_field(step, text, local_day(ctx.now))
    except InvalidEvent as invalid:
        ctx.say(f"event.invalid.{invalid.reason}")
        _ask(ctx, step)
        return
    await _answered(ctx, step, values)


async def theme_pick(ctx: Context, arg: str) -> None:
    require_admin(ctx)
    if ctx.state.flow != FLOW or ctx.state.step != "theme":
        raise StaleAction("no theme asked")
    theme = "" if arg == "all" else THEMES[parse_index(arg, len(THEMES))]
    await _answered(ctx, "theme", {"theme": theme})


async def step_button(ctx: Context, arg: str) -> None:
    """es:skip (an optional step of a new event) or es:save (the new event)."""
    require_admin(ctx)
    step = ctx.state.step or ""
    if ctx.state.flow != FLOW or "event_id" in ctx.state.data:
        raise StaleAction("no new event being written")
    if arg == "skip" and step in OPTIONAL:
        await _answered(ctx, step, {})
    elif arg == "save" and step == "confirm":
        await _save_new(ctx)
    else:
        raise StaleAction(f"{arg!r} at step {step!r}")


async def _answered(ctx: Context, step: str, values: dict[str, str]) -> None:
    if "event_id" in ctx.state.data:
        await _save_change(ctx, step, values)
        return
    following = NEW_STEPS[NEW_STEPS.index(step) + 1]
    ctx.state.goto(following, **values)
    _ask(ctx, following)


async def _save_new(ctx: Context) -> None:
    try:
        event = await ev.create_event(ctx.session, ctx.user, ctx.state.data, ctx.now)
    except InvalidEvent as invalid:
        step = STEP_OF_REASON.get(invalid.reason, "dates")
        ctx.state.goto(step)
        ctx.say(f"event.invalid.{invalid.reason}")
        _ask(ctx, step)
        return
    ctx.state.leave()
    ctx.say("event.created", name=event.name, buttons=[[ctx.button("event.open", f"ev:{event.id}")]])


async def choose_field(ctx: Context, arg: str) -> None:
    """ef:ID (which field to edit) or ef:ID:FIELD (start editing it)."""
    require_admin(ctx)
    event_id, _, field = arg.partition(":")
    event = await ev.get_event(ctx.session, parse_id(event_id))
    if not event.scheduled:
        raise StaleAction("event cancelled")
    if not field:
        rows = [[ctx.button(f"event.field.{name}", f"ef:{event.id}:{name}")] for name in ev.FIELDS]
        ctx.say("event.ask_field", name=event.name, buttons=rows)
        return
    if field not in ev.FIELDS:
        raise StaleAction(f"bad field {field[:20]!r}")
    ctx.state.enter(FLOW, field, event_id=event.id)
    _ask(ctx, field)


async def _save_change(ctx: Context, step: str, values: dict[str, str]) -> None:
    try:
        event = await ev.update_event(ctx.session, ctx.user, int(ctx.state.data["event_id"]), values, ctx.now)
    except InvalidEvent as invalid:
        ctx.say(f"event.invalid.{invalid.reason}")
        _ask(ctx, step)
        return
    ctx.state.leave()
    ctx.say("event.updated", name=event.name, buttons=[[ctx.button("event.open", f"ev:{event.id}")]])


async def _ask_cancel(ctx: Context, arg: str) -> None:
    event = await ev.get_event(ctx.session, parse_id(arg))
    if not event.scheduled:
        raise StaleAction("event already cancelled")
    buttons = [[ctx.button("event.cancel_confirm", f"ex:{event.id}:yes"), ctx.button("event.keep", "cancel")]]
    ctx.say("event.cancel_ask", name=event.name, dates=dates_text(event), buttons=buttons)


async def cancel_button(ctx: Context, arg: str) -> None:
    """ex:ID asks to confirm; the confirmation button carries ex:ID:yes."""
    require_admin(ctx)
    event_id, _, confirmed = arg.partition(":")
    if confirmed != "yes":
        await _ask_cancel(ctx, event_id)
        return
    event, users = await ev.cancel_event(ctx.session, ctx.user, parse_id(event_id), ctx.now)
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
    return Reply(text, buttons=((Button(t("event.open"), f"ev:{event.id}"),),))
