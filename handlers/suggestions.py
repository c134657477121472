"""Suggested partners at an event (/suggest, or the button on an event one registered for): a buyer sees the
event's producers ranked by fit, a producer the event's buyers, each with the reasons (models/matchmaking.py).

Each suggestion is one item: a line of text and a row of buttons — the one opening the partner (a producer's
products, a buyer's profile summary) and, when the event has meetings open, "book a meeting" with that partner."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.actions import (
    ShowEvent,
    ShowProduct,
    ShowSuggestedBuyer,
    ShowSuggestedProducer,
    SuggestPartners,
    positive,
)
from handlers.certificates import list_flag
from handlers.context import Context
from handlers.i18n import Translator
from handlers.meetings import book_button
from handlers.messages import Button, Reply
from models import matchmaking as mm
from models import meetings as mt
from models import parse
from models.certificates import local_today
from models.errors import Stale, StaleAction
from models.events import Event, EventRole, Registration, get_event, registration_of
from models.people import BuyerKind

PAGE = 5
TURN = "p"  # SuggestPartners.turn of the paging buttons

@dataclass(frozen=True)
class Item:
    """One entry of a list: its text, the button opening it (its key is the entry's number) and further buttons."""

    text: str
    opens: Button
    extras: tuple[Button, ...] = ()


def item_list(text: str, items: list[Item], navigation: list[Button], *, edit: bool) -> Reply:
    """A list whose entries are items. The text names each entry by its number; where buttons cannot be shown,
    the renderer lists them (handlers/render.py) — only the extras when no entry has any: the numbers in the text
    then choose the entries."""
    rows = [(item.opens, *item.extras) for item in items]
    if navigation:
        rows.append(tuple(navigation))
    with_extras = any(item.extras for item in items)
    return Reply(text, buttons=tuple(rows), edit=edit, listed=0 if with_extras else len(items))


# -- /suggest and the suggestions -----------------------------------------------------------------------------------


async def command(ctx: Context, arg: str = "") -> None:
    """/suggest [EVENT]: the suggestions at that event, or at the only event one is registered for (else a choice)."""
    arg = arg.strip()
    if arg:
        event_id = parse.record_id(arg)
        if event_id is None:
            ctx.say("suggest.usage")
            return
        await show(ctx, SuggestPartners(event_id), edit=False)
        return
    events = await mm.events_of(ctx.session, ctx.user.id or 0, local_today(ctx.now))
    if not events:
        ctx.say("suggest.no_event")
    elif len(events) == 1:
        await show(ctx, SuggestPartners(events[0].id or 0), edit=False)
    else:
        rows = [[Button(event.name, SuggestPartners(event.id or 0).encode())] for event in events]
        ctx.say("suggest.which_event", buttons=rows)


async def page(ctx: Context, action: SuggestPartners) -> None:
    """The button: a new list, or (« Previous, More ») the list's other page in place of this one."""
    await show(ctx, action, edit=action.turn == TURN)


async def show(ctx: Context, action: SuggestPartners, *, edit: bool) -> None:
    event = await _event(ctx, action.event)
    found = await _matches(ctx, event)
    if found is None:
        return
    viewer, matches = found
    if not matches:
        ctx.say(f"suggest.none.{viewer}", name=event.name)
        return
    offset = action.offset
    if offset < 0 or offset % PAGE or offset >= len(matches):
        raise StaleAction(f"bad suggestion offset {offset}", Stale.EXPIRED)
    ctx.state.data["suggest"] = {"event": event.id, "offset": offset}
    shown = matches[offset: offset + PAGE]
    bookable = await mt.has_grid(ctx.session, event.id or 0)
    items = [_item(ctx, event.id or 0, viewer, number, match, bookable=bookable)
             for number, match in enumerate(shown, start=offset + 1)]
    heading = ctx.t(f"suggest.heading.{viewer}", name=event.name, first=offset + 1, last=offset + len(shown),
                    n=len(matches))
    navigation = []
    if offset > 0:
        navigation.append(ctx.button("search.previous", SuggestPartners(event.id or 0, offset - PAGE, TURN)))
    if offset + PAGE < len(matches):
        navigation.append(ctx.button("search.more", SuggestPartners(event.id or 0, offset + PAGE, TURN)))
    text = "\n\n".join([heading, *(item.text for item in items)])
    ctx.send(item_list(text, items, navigation, edit=edit))


async def _event(ctx: Context, event_id: int) -> Event:
    event = await get_event(ctx.session, positive(event_id))
    if not event.scheduled:
        raise StaleAction("event cancelled", Stale.GONE)
    return event


async def _matches(ctx: Context, event: Event) -> tuple[str, list[mm.Match]] | None:
    """("buyer" or "producer", the suggestions for this user) — None, after saying why, when they get none."""
    registration = await registration_of(ctx.session, ctx.user.id or 0, event.id or 0)
    if registration is None:
        ctx.say("suggest.not_registered", name=event.name,
                buttons=[[ctx.button("event.open", ShowEvent(event.id or 0))]])
        return None
    today = local_today(ctx.now)
    if registration.role == EventRole.BUYER.value:
        return "buyer", await mm.suggest_producers(ctx.session, event.id or 0, ctx.user.id or 0, ctx.now, today,
                                                   ctx.services.event_people)
    if ctx.user.producer_id is None:
        ctx.say("suggest.claim_first")
        return None
    return "producer", await mm.suggest_buyers(ctx.session, event.id or 0, ctx.user.producer_id, ctx.now, today,
                                               ctx.services.event_people)


def _item(ctx: Context, event_id: int, viewer: str, number: int, match: mm.Match, *, bookable: bool) -> Item:
    why = reasons_text(ctx.t, viewer, match)
    points = ctx.t("suggest.points", n=match.score)
    extras: tuple[Button, ...] = ()
    if bookable:
        partner = {"producer_id": match.producer.id} if viewer == "buyer" else {"buyer_user_id": match.buyer.user_id}
        extras = (book_button(ctx.t, event_id, **partner),)
    if viewer == "buyer":
        producer = match.producer
        text = f"{number}. {producer.name} — {producer.province} — {points}\n   {why}"
        opens = Button(_label(number, producer.name, extras), ShowSuggestedProducer(event_id, producer.id).encode(),
                       key=str(number))
    else:
        buyer = match.buyer
        kind = ctx.t(f"buyer_kind.{buyer.kind}") if buyer.kind in set(BuyerKind) else "—"
        text = f"{number}. {buyer.name or '?'} — {kind} — {points}\n   {why}"
        opens = Button(_label(number, buyer.name or "?", extras), ShowSuggestedBuyer(event_id, buyer.user_id).encode(),
                       key=str(number))
    return Item(text, opens, extras)


def _label(number: int, name: str, extras: tuple[Button, ...]) -> str:
    """"1. Name"; just the name on a row with more buttons, which are listed with their own numbers where buttons
    cannot be shown ("1. Name", "6. Book a meeting")."""
    return name if extras else f"{number}. {name}"


def reasons_text(t: Translator, viewer: str, match: mm.Match) -> str:
    """Why this partner, in the viewer's words ("matches your search “cà phê Tây Nguyên”; ...")."""
    parts = [reason_text(t, viewer, reason) for reason in match.shown()]
    return "; ".join(parts) if parts else t("suggest.why.none")


def reason_text(t: Translator, viewer: str, reason: mm.Reason) -> str:
    params: dict[str, object] = {"detail": reason.detail}
    if reason.group:
        params["group"] = t(f"group.{reason.group}")
    if reason.why == mm.Why.KIND:
        params["kind"] = t(f"buyer_kind.{reason.detail}")
    return t(f"suggest.why.{viewer}.{reason.why}", **params)


# -- opening a suggestion -------------------------------------------------------------------------------------------


async def show_producer(ctx: Context, action: ShowSuggestedProducer) -> None:
    """A suggested producer's listed products (for someone registered at the event)."""
    event = await _event(ctx, action.event)
    await _require_registered(ctx, event)
    found = await mm.event_producers(ctx.session, event.id or 0, only=positive(action.producer))
    if not found:
        raise StaleAction("producer not at the event", Stale.GONE)
    producer = found[0]
    today = local_today(ctx.now)
    lines = [ctx.t("suggest.producer", name=producer.name, place=producer.province, event=event.name)]
    rows: list[list[Button]] = []
    for number, offer in enumerate(producer.products, start=1):
        flag = list_flag(ctx.t, offer.expires_on, today)
        lines.append(f"{number}. {offer.name} — {'★' * offer.stars}" + (f" — {flag}" if flag else ""))
        rows.append([Button(f"{number}. {offer.name}", ShowProduct(offer.id).encode(), key=str(number))])
    if not producer.products:
        lines.append(ctx.t("suggest.no_products"))
    rows.append([_back(ctx, event)])
    ctx.send(Reply("\n".join(lines), buttons=tuple(tuple(row) for row in rows), listed=len(producer.products)))


async def show_buyer(ctx: Context, action: ShowSuggestedBuyer) -> None:
    """A suggested buyer's profile summary: company, kind, regions and product groups of interest — no contact
    details (those go through a contact request). For the producers and admins at the event."""
    event = await _event(ctx, action.event)
    registration = await _require_registered(ctx, event)
    if not ctx.user.is_admin and (registration is None or registration.role != EventRole.PRODUCER.value):
        raise StaleAction("only producers see buyers' summaries")
    found = await mm.event_buyers(ctx.session, event.id or 0, ctx.now, only=positive(action.buyer))
    if not found:
        raise StaleAction("buyer not at the event", Stale.GONE)
    buyer = found[0]
    kind = ctx.t(f"buyer_kind.{buyer.kind}") if buyer.kind in set(BuyerKind) else "—"
    groups = ", ".join(ctx.t(f"group.{group}") for group in sorted(buyer.groups)) or "—"
    text = ctx.t("suggest.buyer", name=buyer.name or "?", kind=kind, regions=", ".join(buyer.regions) or "—",
                 groups=groups, event=event.name)
    ctx.send(Reply(text, buttons=((_back(ctx, event),),)))


async def _require_registered(ctx: Context, event: Event) -> Registration | None:
    """The user's registration at the event; None for an admin who has none; anyone else is refused."""
    registration = await registration_of(ctx.session, ctx.user.id or 0, event.id or 0)
    if registration is None and not ctx.user.is_admin:
        raise StaleAction("not registered at the event")
    return registration


def _back(ctx: Context, event: Event) -> Button:
    saved = ctx.state.data.get("suggest", {})
    offset = saved.get("offset", 0) if saved.get("event") == event.id else 0
    return ctx.button("suggest.back", SuggestPartners(event.id or 0, offset if isinstance(offset, int) else 0))
