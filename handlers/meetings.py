"""One-to-one meetings at events (models/meetings.py): the event's meetings page (/meetings), booking with a
counterpart in a free slot, answering (accept, decline, propose another slot), cancelling, /agenda with printable
papers, the office's grid (a flow), its booking for both and its held / no-show marks, a memo from a meeting, and
the reminder before each meeting (sent by the housekeeping loop). Every change is told to the other side through
the notifications, in the same transaction.

``book_button`` is the entry point for other lists (suggested partners): a "book a meeting" button for a
counterpart at an event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import flow
from handlers.actions import (
    AnswerMeeting,
    BookMeeting,
    CancelMeeting,
    EditGrid,
    EventMeetings,
    MarkMeeting,
    MeetingFile,
    MemoFromMeeting,
    OfficeBook,
    PickCounterpart,
    ProposeSlot,
    ShowMeeting,
    ShowMemo,
    positive,
)
from handlers.admin import require_admin
from handlers.context import Context, Services, notify
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin
from handlers.i18n import Translator
from handlers.messages import Attachment, Button, Reply
from models import meeting_export, parse
from models import meetings as mt
from models.catalog import Producer, Product
from models.errors import NotAuthorised, QuotaExceeded, Stale, StaleAction
from models.events import Event, EventRole, get_event, registrant_list
from models.meetings import Booking, GridValues, InvalidGrid, Meeting, MeetingView, NotAtEvent, Side, SlotTaken
from models.people import User, users_of_producer

PAGE = 10  # counterparts listed at a time
STEP_OF_REASON = {"days": "days", "tables": "count", "no_producers": "tables"}  # where a refused grid goes back to
GRID_SHOWN = 40  # meetings listed in the chat's grid view (the files have them all)


def book_button(t: Translator, event_id: int, *, producer_id: int | None = None, buyer_user_id: int | None = None
                ) -> Button:
    """A "book a meeting" button with a producer (for a buyer) or a buyer (for a producer) at an event."""
    if producer_id is not None:
        return Button(t("meeting.book"), BookMeeting(event_id, "p", producer_id).encode())
    assert buyer_user_id is not None
    return Button(t("meeting.book"), BookMeeting(event_id, "b", buyer_user_id).encode())


# -- wording --------------------------------------------------------------------------------------------------------


def when(view: MeetingView) -> str:
    start, end = mt.local(view.slot.starts_at), mt.local(view.slot.ends_at)
    return f"{start:%d/%m %H:%M}–{end:%H:%M}"


def table_label(t: Translator, view: MeetingView) -> str:
    return view.table.name or t("meeting.table", n=view.table.number)


def slot_label(slot: mt.MeetingSlot) -> str:
    start, end = mt.local(slot.starts_at), mt.local(slot.ends_at)
    return f"{start:%d/%m %H:%M}–{end:%H:%M}"


def other_party(t: Translator, view: MeetingView, side: Side | None) -> str:
    """Who the reader meets (the office sees both), with the producer's products."""
    producer = view.producer.name
    if view.products:
        producer += " — " + t("meeting.products", names=", ".join(view.products))
    if side is Side.BUYER:
        return producer
    if side is Side.PRODUCER:
        return view.buyer_company
    return f"{view.buyer_company} ⇄ {producer}"


def status_text(t: Translator, view: MeetingView, side: Side | None) -> str:
    meeting = view.meeting
    if meeting.status == mt.MeetingStatus.REQUESTED.value:
        return t("meeting.waiting_you" if meeting.awaiting == side else "meeting.waiting_them")
    return t(f"meeting_status.{meeting.status}")


def line(t: Translator, view: MeetingView, side: Side | None) -> str:
    return (f"• {when(view)} · {table_label(t, view)} · {other_party(t, view, side)} · "
            f"{status_text(t, view, side)}")


def detail(t: Translator, view: MeetingView, side: Side | None) -> str:
    return t("meeting.detail", id=view.meeting.id, event=view.event.name, when=when(view),
             table=table_label(t, view), other=other_party(t, view, side), status=status_text(t, view, side))


# -- everyone: the event's meetings, booking --------------------------------------------------------------------


async def command(ctx: Context, arg: str) -> None:
    """/meetings [EVENT] | grid EVENT | book EVENT | held MEETING | noshow MEETING (the last three: admins)."""
    word, _, rest = arg.strip().partition(" ")
    word = word.lower()
    number = parse.record_id(rest.strip().removeprefix("#"))
    if word in ("grid", "book", "held", "noshow"):
        require_admin(ctx)
        if number is None:
            ctx.say("meeting.usage")
        elif word == "grid":
            await start_grid(ctx, number)
        elif word == "book":
            await office_book(ctx, OfficeBook(number))
        else:
            await mark(ctx, MarkMeeting(number, "held" if word == "held" else "no_show"))
        return
    event_id = parse.record_id(word.removeprefix("#")) if word else None
    if event_id is not None:
        await event_page(ctx, EventMeetings(event_id))
        return
    if word:
        ctx.say("meeting.usage")
        return
    await _events_with_grids(ctx)


async def _events_with_grids(ctx: Context) -> None:
    query = (select(Event).join(mt.MeetingGrid, col(mt.MeetingGrid.event_id) == Event.id)
             .where(Event.status == "scheduled", col(Event.ends_on) >= mt.local(ctx.now).date())
             .order_by(col(Event.starts_on)).limit(20))
    events = list((await ctx.session.exec(query)).all())
    if not events:
        ctx.say("meeting.no_events")
        return
    rows = [[Button(event.name, EventMeetings(event.id or 0).encode())] for event in events]
    ctx.say("meeting.events", buttons=rows)


async def _my_side(ctx: Context, event_id: int) -> Side | None:
    """How the user takes part in the event's meetings: as a registered buyer, or for their producer at it."""
    if await mt.buyer_registration(ctx.session, event_id, ctx.user.id or 0) is not None:
        return Side.BUYER
    if ctx.user.producer_id is not None and await mt.producer_is_at(ctx.session, event_id, ctx.user.producer_id):
        return Side.PRODUCER
    return None


async def event_page(ctx: Context, action: EventMeetings) -> None:
    event = await get_event(ctx.session, positive(action.event))
    grid = await mt.grid_of(ctx.session, event.id or 0)
    side = await _my_side(ctx, event.id or 0)
    rows: list[list[Button]] = []
    if grid is None:
        text = ctx.t("meeting.no_grid", name=event.name)
    else:
        values = await mt.grid_values(ctx.session, grid)
        text = ctx.t("meeting.grid_summary", name=event.name, days=", ".join(f"{d:%d/%m/%Y}" for d in values.days),
                     hours=grid.hours, breaks=grid.breaks or "—", minutes=grid.slot_minutes,
                     slots=len(await mt.slots_of(ctx.session, event.id or 0)),
                     tables=len(await mt.tables_of(ctx.session, event.id or 0)))
        if side is not None and event.scheduled:
            rows.append([ctx.button("meeting.book", PickCounterpart(event.id or 0))])
        if side is not None:
            rows.append([ctx.button("meeting.my_agenda", MeetingFile(event.id or 0, "me", "chat"))])
    if ctx.user.is_admin and event.scheduled:
        rows.append([ctx.button("meeting.open_grid" if grid is None else "meeting.edit_grid", EditGrid(event.id or 0))])
        if grid is not None:
            rows.append([ctx.button("meeting.office_book", OfficeBook(event.id or 0)),
                         ctx.button("meeting.show_grid", MeetingFile(event.id or 0, "grid", "chat"))])
            rows.append([ctx.button("meeting.grid_xlsx", MeetingFile(event.id or 0, "grid", "xlsx")),
                         ctx.button("meeting.grid_docx", MeetingFile(event.id or 0, "grid", "docx"))])
    elif side is None and grid is not None:
        text += "\n\n" + ctx.t("meeting.not_at_event")
    ctx.send(Reply(text, buttons=tuple(tuple(row) for row in rows)))


async def pick_counterpart(ctx: Context, action: PickCounterpart) -> None:
    """Producers at the event for a buyer, registered buyers for a producer: a page of them to book with."""
    event = await get_event(ctx.session, positive(action.event))
    side = await _my_side(ctx, event.id or 0)
    if side is None:
        raise NotAuthorised("not at the event")
    offset = max(action.offset, 0)
    rows: list[list[Button]] = []
    if side is Side.BUYER:
        producers = await mt.producers_at(ctx.session, event.id or 0)
        page = producers[offset:offset + PAGE]
        rows = [[Button(producer.name, BookMeeting(event.id or 0, "p", producer.id or 0).encode())]
                for producer in page]
        total = len(producers)
    else:
        buyers = [person for person in await registrant_list(ctx.session, event.id or 0)
                  if person.role == EventRole.BUYER.value]
        page_b = buyers[offset:offset + PAGE]
        rows = [[Button(person.company or person.name, BookMeeting(event.id or 0, "b", person.user_id).encode())]
                for person in page_b]
        total = len(buyers)
    if not rows:
        ctx.say("meeting.nobody")
        return
    if offset + PAGE < total:
        rows.append([ctx.button("meeting.more", PickCounterpart(event.id or 0, offset + PAGE))])
    ctx.say("meeting.pick_counterpart", name=event.name, buttons=rows)


async def _booking_for(ctx: Context, action: BookMeeting) -> tuple[Booking, Side]:
    event_id = positive(action.event)
    who = positive(action.who)
    if action.party == "p":
        if await mt.buyer_registration(ctx.session, event_id, ctx.user.id or 0) is None:
            raise NotAuthorised("not a buyer at the event")
        if not await mt.producer_is_at(ctx.session, event_id, who):
            raise NotAtEvent("producer")
        return Booking(event_id, ctx.user.id or 0, who), Side.BUYER
    if action.party == "b":
        producer_id = ctx.user.producer_id
        if producer_id is None or not await mt.producer_is_at(ctx.session, event_id, producer_id):
            raise NotAuthorised("not a producer at the event")
        if await mt.buyer_registration(ctx.session, event_id, who) is None:
            raise NotAtEvent("buyer")
        return Booking(event_id, who, producer_id), Side.PRODUCER
    raise StaleAction(f"bad party {action.party!r}")


async def book(ctx: Context, action: BookMeeting) -> None:
    """Slot 0: the free slots with the counterpart; a slot: the request, told to the other side."""
    try:
        booking, side = await _booking_for(ctx, action)
    except NotAtEvent:
        ctx.say("meeting.not_at.them")
        return
    if action.slot == 0:
        await _ask_slot(ctx, booking, lambda slot: BookMeeting(action.event, action.party, action.who, slot.id or 0))
        return
    try:
        meeting = await mt.book(ctx.session, ctx.user, side, booking, positive(action.slot), ctx.services.meetings,
                                ctx.now)
    except QuotaExceeded as full:
        ctx.say("meeting.quota", limit=full.limit)
        return
    except NotAtEvent as refused:
        _say_refused(ctx, refused, side)
        return
    except SlotTaken as refused:
        _say_refused(ctx, refused, side)
        await _ask_slot(ctx, booking, lambda slot: BookMeeting(action.event, action.party, action.who, slot.id or 0))
        return
    view = await mt.view_of(ctx.session, meeting)
    ctx.say("meeting.requested", other=other_party(ctx.t, view, side), when=when(view), table=table_label(ctx.t, view),
            buttons=[[ctx.button("meeting.open", ShowMeeting(meeting.id or 0))]])
    await _tell(ctx, view, "meeting.notice.requested", exclude=side)


def _say_refused(ctx: Context, refused: SlotTaken | NotAtEvent, side: Side) -> None:
    """Why the slot cannot be had, from the asker's point of view (``who`` names the buyer or the producer)."""
    who = refused.who if refused.who in ("tables", "same") else "you" if refused.who == side.value else "them"
    ctx.say(f"meeting.taken.{who}" if isinstance(refused, SlotTaken) else f"meeting.not_at.{who}")


async def _ask_slot(ctx: Context, booking: Booking, pick: Callable[[mt.MeetingSlot], object]) -> None:
    slots = await mt.free_slots(ctx.session, booking, ctx.now)
    if not slots:
        ctx.say("meeting.no_free_slot")
        return
    producer = await ctx.session.get(Producer, booking.producer_id)
    buyer = await ctx.session.get(User, booking.buyer_user_id)
    rows = [[Button(slot_label(slot), pick(slot).encode())] for slot in slots]  # type: ignore[attr-defined]
    ctx.say("meeting.pick_slot", producer=producer.name if producer else "?",
            buyer=buyer.display_name if buyer else "?", buttons=rows)


# -- one meeting ----------------------------------------------------------------------------------------------------


async def show(ctx: Context, action: ShowMeeting) -> None:
    meeting = await mt.get_meeting(ctx.session, ctx.user, positive(action.meeting))
    view = await mt.view_of(ctx.session, meeting)
    side = mt.side_of(ctx.user, meeting)
    ctx.send(Reply(detail(ctx.t, view, side), buttons=tuple(tuple(row) for row in _meeting_buttons(ctx, view, side))))


def _meeting_buttons(ctx: Context, view: MeetingView, side: Side | None) -> list[list[Button]]:
    meeting = view.meeting
    number = meeting.id or 0
    rows: list[list[Button]] = []
    if meeting.status == mt.MeetingStatus.REQUESTED.value and side is not None and meeting.awaiting == side:
        rows.append([ctx.button("meeting.accept", AnswerMeeting(number, "yes")),
                     ctx.button("meeting.decline", AnswerMeeting(number, "no"))])
        rows.append([ctx.button("meeting.propose", ProposeSlot(number))])
    if meeting.status in mt.OPEN and (side is not None or ctx.user.is_admin):
        rows.append([ctx.button("meeting.cancel", CancelMeeting(number))])
    begun = view.slot.starts_at <= ctx.now
    if begun and side is not None and meeting.status in (mt.MeetingStatus.ACCEPTED, mt.MeetingStatus.HELD):
        rows.append([ctx.button("meeting.memo", MemoFromMeeting(number))])
    if begun and ctx.user.is_admin and meeting.status in (mt.MeetingStatus.ACCEPTED, mt.MeetingStatus.HELD,
                                                          mt.MeetingStatus.NO_SHOW):
        rows.append([ctx.button("meeting.mark_held", MarkMeeting(number, "held")),
                     ctx.button("meeting.mark_no_show", MarkMeeting(number, "no_show"))])
    return rows


async def answer(ctx: Context, action: AnswerMeeting) -> None:
    if action.answer not in ("yes", "no"):
        raise StaleAction(f"bad answer {action.answer!r}")
    accept = action.answer == "yes"
    meeting = await mt.answer(ctx.session, ctx.user, positive(action.meeting), accept=accept, now=ctx.now)
    view = await mt.view_of(ctx.session, meeting)
    side = mt.side_of(ctx.user, meeting)
    ctx.say("meeting.accepted" if accept else "meeting.declined", other=other_party(ctx.t, view, side),
            when=when(view), table=table_label(ctx.t, view))
    await _tell(ctx, view, "meeting.notice.accepted" if accept else "meeting.notice.declined", exclude=side)


async def propose(ctx: Context, action: ProposeSlot) -> None:
    """Another slot instead of the one asked for: the free ones first, then the new request."""
    meeting = await mt.get_meeting(ctx.session, ctx.user, positive(action.meeting))
    side = mt.side_of(ctx.user, meeting)
    if meeting.status != mt.MeetingStatus.REQUESTED.value:
        raise StaleAction(f"meeting is {meeting.status}", Stale.ANSWERED)
    if side is None or side != meeting.awaiting:
        raise NotAuthorised("the other side answers")
    booking = Booking(meeting.event_id, meeting.buyer_user_id, meeting.producer_id)
    if action.slot == 0:
        await _ask_slot(ctx, booking, lambda slot: ProposeSlot(meeting.id or 0, slot.id or 0))
        return
    try:
        old, new = await mt.propose(ctx.session, ctx.user, meeting.id or 0, positive(action.slot),
                                    ctx.services.meetings, ctx.now)
    except QuotaExceeded as full:
        ctx.say("meeting.quota", limit=full.limit)
        return
    except (SlotTaken, NotAtEvent) as refused:
        _say_refused(ctx, refused, side)
        await _ask_slot(ctx, booking, lambda slot: ProposeSlot(meeting.id or 0, slot.id or 0))
        return
    before, view = await mt.view_of(ctx.session, old), await mt.view_of(ctx.session, new)
    ctx.say("meeting.proposed", other=other_party(ctx.t, view, side), when=when(view))
    await _tell(ctx, view, "meeting.notice.proposed", exclude=side, before=when(before))


async def cancel(ctx: Context, action: CancelMeeting) -> None:
    meeting = await mt.get_meeting(ctx.session, ctx.user, positive(action.meeting))
    if meeting.status not in mt.OPEN:
        raise StaleAction(f"meeting is {meeting.status}", Stale.ANSWERED)
    view = await mt.view_of(ctx.session, meeting)
    side = mt.side_of(ctx.user, meeting)
    if action.confirmed != "yes":
        ctx.say("meeting.cancel_ask", other=other_party(ctx.t, view, side), when=when(view),
                buttons=[[ctx.button("meeting.cancel_confirm", CancelMeeting(meeting.id or 0, "yes")),
                          ctx.button("meeting.keep", ShowMeeting(meeting.id or 0))]])
        return
    await mt.cancel(ctx.session, ctx.user, meeting.id or 0, ctx.now)
    ctx.say("meeting.cancelled", other=other_party(ctx.t, view, side), when=when(view))
    await _tell(ctx, view, "meeting.notice.cancelled", exclude=side)


async def mark(ctx: Context, action: MarkMeeting) -> None:
    require_admin(ctx)
    if action.outcome not in ("held", "no_show"):
        raise StaleAction(f"bad outcome {action.outcome!r}")
    meeting = await mt.mark(ctx.session, ctx.user, positive(action.meeting), action.outcome == "held", ctx.now)
    view = await mt.view_of(ctx.session, meeting)
    ctx.say("meeting.marked", id=meeting.id, other=other_party(ctx.t, view, None),
            status=ctx.t(f"meeting_status.{meeting.status}"))


async def memo_from(ctx: Context, action: MemoFromMeeting) -> None:
    """Product 0: which of the producer's products the memo is about; a product: the draft, told to the other side."""
    meeting = await mt.get_meeting(ctx.session, ctx.user, positive(action.meeting))
    if action.product == 0:
        query = (select(Product).where(Product.producer_id == meeting.producer_id, col(Product.hidden).is_(False))
                 .order_by(col(Product.id)).limit(20))
        products = list((await ctx.session.exec(query)).all())
        if not products:
            ctx.say("meeting.no_products")
            return
        rows = [[Button(product.name, MemoFromMeeting(meeting.id or 0, product.id or 0).encode())]
                for product in products]
        ctx.say("meeting.memo_product", buttons=rows)
        return
    memo = await mt.memo_from_meeting(ctx.session, ctx.user, meeting.id or 0, positive(action.product), ctx.now)
    view = await mt.view_of(ctx.session, meeting)
    side = mt.side_of(ctx.user, meeting)
    product = await ctx.session.get(Product, memo.product_id)
    name = product.name if product else "?"
    ctx.say("meeting.memo_started", number=memo.number, product=name,
            buttons=[[ctx.button("meeting.memo_open", ShowMemo(memo.id or 0))]])
    for user in await _people_of(ctx, view, exclude=side):
        ctx.notify(user, lambda t, v=view: Reply(
            t("meeting.notice.memo", number=memo.number, product=name, when=when(v)),
            buttons=((Button(t("meeting.memo_open"), ShowMemo(memo.id or 0).encode()),),)))


# -- telling the other side ------------------------------------------------------------------------------------------


async def _people_of(ctx: Context, view: MeetingView, *, exclude: Side | None) -> list[User]:
    """The meeting's people except the side ``exclude`` (the office, acting, is told nothing: it sees its reply)."""
    people: list[User] = []
    if exclude is not Side.BUYER:
        people.append(view.buyer)
    if exclude is not Side.PRODUCER:
        people.extend(await users_of_producer(ctx.session, view.producer.id or 0))
    return [person for person in people if person.id != ctx.user.id]


async def _tell(ctx: Context, view: MeetingView, key: str, *, exclude: Side | None, **extra: str) -> None:
    await tell(ctx.session, view, key, exclude=exclude, actor=ctx.user.id, **extra)


async def tell(session: AsyncSession, view: MeetingView, key: str, *, exclude: Side | None = None,
               actor: int | None = None, **extra: str) -> None:
    """Queue ``key`` about the meeting to each of its people (but the side ``exclude`` and the ``actor``), worded
    for them, with the meeting's button."""
    people: list[User] = []
    if exclude is not Side.BUYER:
        people.append(view.buyer)
    if exclude is not Side.PRODUCER:
        people.extend(await users_of_producer(session, view.producer.id or 0))
    for person in people:
        if person.id == actor:
            continue
        side = Side.BUYER if person.id == view.buyer.id else Side.PRODUCER
        notify(session, person, lambda t, s=side: Reply(
            t(key, other=other_party(t, view, s), when=when(view), table=table_label(t, view), event=view.event.name,
              **extra),
            buttons=((Button(t("meeting.open"), ShowMeeting(view.meeting.id or 0).encode()),),)))


async def release_withdrawn(ctx: Context, event_id: int, role: str) -> None:
    """After the user withdrew from the event: their meetings as its buyer, or their producer's once no one of it
    is at the event any more, are cancelled and the other sides told."""
    released: list[Meeting] = []
    if role == EventRole.BUYER.value:
        released = await mt.release(ctx.session, event_id, ctx.now, buyer_user_id=ctx.user.id or 0)
    elif ctx.user.producer_id is not None and not await mt.producer_is_at(ctx.session, event_id,
                                                                          ctx.user.producer_id):
        released = await mt.release(ctx.session, event_id, ctx.now, producer_id=ctx.user.producer_id)
    for view in await mt.views(ctx.session, released):
        await tell(ctx.session, view, "meeting.notice.cancelled", actor=ctx.user.id)


# -- /agenda and the papers -----------------------------------------------------------------------------------------


async def agenda(ctx: Context, _arg: str = "") -> None:
    """/agenda: the user's meetings (all events), in time order."""
    views = await mt.agenda(ctx.session, ctx.user)
    if not views:
        ctx.say("meeting.agenda_empty")
        return
    lines, rows = [], []
    for view in views:
        side = mt.side_of(ctx.user, view.meeting)
        lines.append(line(ctx.t, view, side))
        rows.append([Button(f"{when(view)} {other_party(ctx.t, view, side)}"[:60],
                            ShowMeeting(view.meeting.id or 0).encode())])
    events = sorted({view.event.id or 0 for view in views})
    for event_id in events[:3]:
        rows.append([ctx.button("meeting.agenda_docx", MeetingFile(event_id, "me", "docx")),
                     ctx.button("meeting.agenda_xlsx", MeetingFile(event_id, "me", "xlsx"))])
    ctx.say("meeting.agenda", body="\n".join(lines), buttons=rows)


def _agenda_rows(t: Translator, user: User, views: Sequence[MeetingView]) -> list[list[str]]:
    return [[when(view), table_label(t, view), other_party(t, view, mt.side_of(user, view.meeting)),
             status_text(t, view, mt.side_of(user, view.meeting))] for view in views]


def _grid_rows(t: Translator, slots: Sequence[mt.MeetingSlot], tables: Sequence[mt.MeetingTable],
               cells: dict[tuple[int, int], MeetingView]) -> list[list[str]]:
    rows = []
    for table in tables:
        name = table.name or t("meeting.table", n=table.number)
        for slot in slots:
            view = cells.get((slot.id or 0, table.id or 0))
            if view is None:
                rows.append([name, slot_label(slot), "", "", t("meeting.free")])
            else:
                rows.append([name, slot_label(slot), view.buyer_company, view.producer.name,
                             t(f"meeting_status.{view.meeting.status}")])
    return rows


async def paper(ctx: Context, action: MeetingFile) -> None:
    """The agenda in the chat or as a file; the grid in the chat or as a file (office); "edit": the grid's flow."""
    event = await get_event(ctx.session, positive(action.event))
    if action.scope == "me":
        views = await mt.agenda(ctx.session, ctx.user, event_id=event.id)
        if action.format == "chat":
            body = "\n".join(line(ctx.t, view, mt.side_of(ctx.user, view.meeting)) for view in views)
            ctx.say("meeting.agenda_event", name=event.name, body=body or ctx.t("meeting.agenda_empty"))
            return
        header = [ctx.t(f"meeting.column.{c}") for c in ("when", "table", "with", "status")]
        rows = _agenda_rows(ctx.t, ctx.user, views)
        title = ctx.t("meeting.agenda_title", name=event.name, person=ctx.user.display_name)
        name = f"ocop-agenda-{event.id}-{ctx.user.id}"
        grouped = False
    elif action.scope == "grid":
        require_admin(ctx)
        slots, tables, cells = await mt.grid_rows(ctx.session, event.id or 0)
        rows = _grid_rows(ctx.t, slots, tables, cells)
        if action.format == "chat":
            taken = [row for row in rows if row[2]]
            body = "\n".join(f"{row[0]} · {row[1]} · {row[2]} ⇄ {row[3]} · {row[4]}" for row in taken[:GRID_SHOWN])
            if len(taken) > GRID_SHOWN:
                body += "\n" + ctx.t("meeting.grid_more", n=len(taken) - GRID_SHOWN)
            ctx.say("meeting.grid_chat", name=event.name, body=body or "—", n=len(taken))
            return
        header = [ctx.t(f"meeting.column.{c}") for c in ("table", "when", "buyer", "producer", "status")]
        title = ctx.t("meeting.grid_title", name=event.name)
        name = f"ocop-meetings-{event.id}"
        grouped = True
    else:
        raise StaleAction(f"bad scope {action.scope!r}")
    if action.format not in meeting_export.FORMATS:
        raise StaleAction(f"bad format {action.format!r}")
    if not ctx.capabilities.documents:
        ctx.say("export.no_files")
        return
    made = meeting_export.paper(name, title, header, rows, action.format, ctx.now, grouped=grouped)
    ctx.send(Reply(ctx.t("meeting.paper_ready", rows=made.rows),
                   document=Attachment(made.filename, made.data, made.mime)))


# -- the office: the grid (a flow) and booking for both ----------------------------------------------------------


async def edit_grid(ctx: Context, action: EditGrid) -> None:
    await start_grid(ctx, action.event)


async def start_grid(ctx: Context, event_id: int) -> None:
    require_admin(ctx)
    event = await get_event(ctx.session, positive(event_id))
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    await begin(ctx, GRID, event_id=event.id)


async def _event_of_flow(ctx: Context) -> Event:
    return await get_event(ctx.session, int(ctx.state.data["event_id"]))


def _event_days(event: Event) -> list[date]:
    days, day = [], event.starts_on
    while day <= event.ends_on and len(days) < 31:
        days.append(day)
        day = date.fromordinal(day.toordinal() + 1)
    return days


async def _ask_days(ctx: Context) -> Question:
    event = await _event_of_flow(ctx)
    return Question(ctx.t("meeting.ask.days", name=event.name), (Option("all", ctx.t("meeting.all_days")),),
                    cancel=True)


async def _read_days(ctx: Context, text: str) -> list[str]:
    event = await _event_of_flow(ctx)
    found = parse.dates_in(text)
    if not found or any(day < event.starts_on or day > event.ends_on for day in found):
        raise Invalid("meeting.invalid.days")
    return sorted({day.isoformat() for day in found})


def _read_windows(key: str) -> Callable[[Context, str], Awaitable[str]]:
    async def read(_ctx: Context, text: str) -> str:
        try:
            return mt.windows_text(mt.parse_windows(text))
        except InvalidGrid as invalid:
            raise Invalid(f"meeting.invalid.{invalid.reason}") from None

    return read


def _ask_text(key: str) -> Callable[[Context], Awaitable[Question]]:
    async def ask(ctx: Context) -> Question:
        return Question(ctx.t(key), cancel=True)

    return ask


async def _ask_minutes(ctx: Context) -> Question:
    return Question(ctx.t("meeting.ask.minutes"),
                    tuple(Option(str(m), ctx.t("meeting.minutes", n=m)) for m in mt.SLOT_LENGTHS), cancel=True)


async def _ask_tables(ctx: Context) -> Question:
    return Question(ctx.t("meeting.ask.tables"), (Option("tables", ctx.t("meeting.numbered_tables")),
                                                  Option("booths", ctx.t("meeting.booths"))), cancel=True)


async def _after_tables(ctx: Context) -> str:
    return "count" if ctx.state.data.get("tables") == "tables" else "confirm"


async def _read_tables(_ctx: Context, text: str) -> str:
    number = parse.number(text.strip(), high=mt.MAX_TABLES)
    if number is None or number < 1:
        raise Invalid("meeting.invalid.tables", limit=mt.MAX_TABLES)
    return str(number)


async def _values(ctx: Context) -> GridValues:
    event = await _event_of_flow(ctx)
    data = ctx.state.data
    days = data.get("days")
    chosen = _event_days(event) if days in (None, "all") else [date.fromisoformat(d) for d in days]
    booths = data.get("tables") == "booths"
    return GridValues(days=tuple(chosen), hours=mt.parse_windows(data["hours"]),
                      breaks=mt.parse_windows(data["breaks"]) if data.get("breaks") else (),
                      slot_minutes=int(data.get("minutes") or 20),
                      tables=0 if booths else int(data.get("count") or 1), booths=booths)


async def _ask_confirm(ctx: Context) -> Question:
    values = await _values(ctx)
    event = await _event_of_flow(ctx)
    tables = ctx.t("meeting.booths") if values.booths else str(values.tables)
    text = ctx.t("meeting.confirm_grid", name=event.name, days=", ".join(f"{d:%d/%m/%Y}" for d in values.days),
                 hours=mt.windows_text(values.hours), breaks=mt.windows_text(values.breaks) or "—",
                 minutes=values.slot_minutes, slots=len(mt.slot_times(values)), tables=tables)
    if await mt.has_bookings(ctx.session, event.id or 0):
        text += "\n\n" + ctx.t("meeting.grid_has_bookings")
    return Question(text, (Option("save", ctx.t("meeting.save_grid")),), cancel=True)


async def _save_grid(ctx: Context) -> None:
    event = await _event_of_flow(ctx)
    try:
        values = await _values(ctx)
        _grid, dropped = await mt.save_grid(ctx.session, ctx.user, event.id or 0, values, ctx.now)
    except InvalidGrid as invalid:
        step = GRID.step(STEP_OF_REASON.get(invalid.reason, "hours"))
        assert step is not None
        ctx.state.goto(step.name)
        await flow.ask(ctx, GRID, step, wrong=ctx.t(f"meeting.invalid.{invalid.reason}", limit=mt.MAX_TABLES))
        return
    ctx.state.leave()
    for view in await mt.views(ctx.session, dropped):
        await tell(ctx.session, view, "meeting.notice.grid_changed", actor=ctx.user.id)
    ctx.say("meeting.grid_saved", name=event.name, slots=len(await mt.slots_of(ctx.session, event.id or 0)),
            tables=len(await mt.tables_of(ctx.session, event.id or 0)), dropped=len(dropped),
            buttons=[[ctx.button("meeting.open_event", EventMeetings(event.id or 0))]])


GRID = flow.register(Flow("meeting_grid", (
    Step("days", Kind.CHOICE, _ask_days, read=_read_days, then="hours"),
    Step("hours", Kind.TEXT, _ask_text("meeting.ask.hours"), read=_read_windows("hours"), then="breaks"),
    Step("breaks", Kind.TEXT, _ask_text("meeting.ask.breaks"), read=_read_windows("breaks"), then="minutes",
         skip=True),
    Step("minutes", Kind.CHOICE, _ask_minutes, then="tables"),
    Step("tables", Kind.CHOICE, _ask_tables, then=_after_tables),
    Step("count", Kind.NUMBER, _ask_text("meeting.ask.count"), read=_read_tables, then="confirm"),
    Step("confirm", Kind.CHOICE, _ask_confirm),
), done=_save_grid, guard=require_admin))


async def office_book(ctx: Context, action: OfficeBook) -> None:
    """The office books a meeting for both: a buyer, a producer, a slot; accepted at once, both are told."""
    require_admin(ctx)
    event = await get_event(ctx.session, positive(action.event))
    event_id, offset = event.id or 0, max(action.offset, 0)
    if action.buyer == 0:
        buyers = [p for p in await registrant_list(ctx.session, event_id) if p.role == EventRole.BUYER.value]
        rows = [[Button(p.company or p.name, OfficeBook(event_id, p.user_id).encode())]
                for p in buyers[offset:offset + PAGE]]
        if offset + PAGE < len(buyers):
            rows.append([ctx.button("meeting.more", OfficeBook(event_id, offset=offset + PAGE))])
        ctx.say("meeting.office_pick_buyer" if rows else "meeting.nobody", buttons=rows)
        return
    if action.producer == 0:
        producers = await mt.producers_at(ctx.session, event_id)
        rows = [[Button(p.name, OfficeBook(event_id, action.buyer, p.id or 0).encode())]
                for p in producers[offset:offset + PAGE]]
        if offset + PAGE < len(producers):
            rows.append([ctx.button("meeting.more", OfficeBook(event_id, action.buyer, offset=offset + PAGE))])
        ctx.say("meeting.office_pick_producer" if rows else "meeting.nobody", buttons=rows)
        return
    booking = Booking(event_id, positive(action.buyer), positive(action.producer))
    pick = lambda slot: OfficeBook(event_id, booking.buyer_user_id, booking.producer_id, slot.id or 0)  # noqa: E731
    if action.slot == 0:
        await _ask_slot(ctx, booking, pick)
        return
    try:
        meeting = await mt.book(ctx.session, ctx.user, Side.OFFICE, booking, positive(action.slot),
                                ctx.services.meetings, ctx.now)
    except SlotTaken as refused:
        ctx.say(f"meeting.office_taken.{refused.who}")
        await _ask_slot(ctx, booking, pick)
        return
    except NotAtEvent as refused:
        ctx.say(f"meeting.office_not_at.{refused.who}")
        return
    except QuotaExceeded as full:
        ctx.say("meeting.office_quota", limit=full.limit)
        return
    view = await mt.view_of(ctx.session, meeting)
    ctx.say("meeting.office_booked", other=other_party(ctx.t, view, None), when=when(view),
            table=table_label(ctx.t, view), buttons=[[ctx.button("meeting.open", ShowMeeting(meeting.id or 0))]])
    await tell(ctx.session, view, "meeting.notice.booked", actor=ctx.user.id)


# -- the reminder -----------------------------------------------------------------------------------------------------


async def send_reminders(services: Services) -> int:
    """Queue the reminders of accepted meetings starting soon (once each, durably), and tell both sides of a request
    left unanswered until its slot began that it lapsed; returns how many meetings were reminded."""
    async with services.db.transaction() as session:
        due = await mt.due_reminders(session, services.clock.now(), services.meetings.remind_before)
        for view in due:
            await tell(session, view, "meeting.notice.reminder")
        for view in await mt.lapse_unanswered(session, services.clock.now()):
            await tell(session, view, "meeting.notice.lapsed")
    return len(due)
