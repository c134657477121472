"""/broadcast (admins): compose a text (and a photo: sent from the phone, or a link) → choose the audience →
preview with the number of recipients → confirm; /broadcast status, /broadcast cancel. The sender worker
(bot/broadcast_sender.py) sends it and reports progress with ``progress_reply``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from handlers.admin import require_admin
from handlers.context import Context, parse_id, parse_index
from handlers.i18n import LANGUAGES, Translator
from handlers.messages import Attachment, Button, Reply
from models import broadcasts as bc
from models import geography
from models.broadcasts import Audience, AudienceKind, BroadcastStatus, Progress
from models.errors import StaleAction
from models.events import all_events, get_event
from models.stored_files import MAX_IMAGE_BYTES, file_ref, image_type, load, ref_id, store
from models.text import normalize

FLOW = "broadcast"
REGIONS = tuple(geography.NEW_REGIONS)
SIMPLE = (AudienceKind.ALL, AudienceKind.BUYERS, AudienceKind.PRODUCERS)
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
PHOTO_KEPT = timedelta(days=30)  # a photo sent for a broadcast is kept this long (Zalo recipients fetch it by link)
PICTURE_TEXT_LIMIT = 1024  # Telegram's caption: the text goes under a picture we upload (a link may take longer text)


async def command(ctx: Context, arg: str) -> None:
    """/broadcast, /broadcast status, /broadcast cancel."""
    require_admin(ctx)
    word = normalize(arg)
    if not word:
        ctx.state.enter(FLOW, "text")
        ctx.say("broadcast.ask_text", limit=bc.MAX_TEXT, buttons=[[_cancel(ctx)]])
    elif word in {"status", "trang thai"}:
        await status(ctx)
    elif word in {"cancel", "stop", "huy", "dung"}:
        await choose_stop(ctx)
    else:
        ctx.say("broadcast.usage")


# -- composing --------------------------------------------------------------------------------------------------


async def on_text(ctx: Context, text: str) -> None:
    require_admin(ctx)
    step, value = ctx.state.step, text.strip()
    if step == "text":
        if len(value) > bc.MAX_TEXT:
            ctx.say("input.too_long", limit=bc.MAX_TEXT)
            return
        ctx.state.goto("photo", text=value)
        ctx.say("broadcast.ask_photo", buttons=[[ctx.button("flow.skip", "bc:skip"), _cancel(ctx)]])
    elif step == "photo":
        if len(value) > bc.MAX_PHOTO_URL or not _URL.match(value):
            ctx.say("broadcast.photo_invalid", buttons=[[ctx.button("flow.skip", "bc:skip"), _cancel(ctx)]])
            return
        ctx.state.goto("audience", photo=value)
        _ask_audience(ctx)
    elif step == "place":
        await _place_typed(ctx, value)
    else:
        ctx.say("flow.use_buttons")


async def on_image(ctx: Context) -> None:
    """A picture sent while composing: at the photo step it becomes the broadcast's photo."""
    require_admin(ctx)
    data = ctx.incoming.image
    mime = image_type(data) if 0 < len(data) <= MAX_IMAGE_BYTES else None
    if ctx.state.step == "text":
        ctx.say("broadcast.photo_not_now", buttons=[[_cancel(ctx)]])
    elif ctx.state.step != "photo":
        ctx.say("flow.use_buttons")
    elif mime is None:
        ctx.say("broadcast.photo_unusable", limit=MAX_IMAGE_BYTES // (1024 * 1024),
                buttons=[[ctx.button("flow.skip", "bc:skip"), _cancel(ctx)]])
    elif len(ctx.state.data.get("text", "")) > PICTURE_TEXT_LIMIT:
        ctx.say("broadcast.photo_text_too_long", limit=PICTURE_TEXT_LIMIT, length=len(ctx.state.data["text"]),
                buttons=[[ctx.button("flow.skip", "bc:skip"), _cancel(ctx)]])
    else:
        name = f"broadcast-photo.{mime.removeprefix('image/').replace('jpeg', 'jpg')}"
        kept = await store(ctx.session, name, mime, data, ctx.now, PHOTO_KEPT)
        ctx.state.goto("audience", photo=file_ref(kept))
        _ask_audience(ctx)


async def on_button(ctx: Context, arg: str) -> None:
    """bc:skip, bc:a:<kind>, bc:r:<region>, bc:pc:<candidate>, bc:l:<language>, bc:e:<event>, bc:back, bc:send."""
    require_admin(ctx)
    if ctx.state.flow != FLOW:
        raise StaleAction("no broadcast being composed")
    what, _, value = arg.partition(":")
    step = ctx.state.step
    if what == "skip" and step == "photo":
        ctx.state.goto("audience", photo="")
        _ask_audience(ctx)
    elif what == "back" and step in {"audience", "place", "preview"}:
        ctx.state.goto("audience")
        _ask_audience(ctx)
    elif what == "a" and step in {"audience", "place"}:
        await _audience_kind(ctx, value)
    elif what in {"r", "pc", "l", "e"} and step in {"audience", "place"}:
        ctx.state.goto("preview", audience=(await _chosen(ctx, what, value)).key)
        await _preview(ctx)
    elif what == "send" and step == "preview":
        await _send(ctx)
    else:
        raise StaleAction(f"{arg!r} at step {step!r}")


def _ask_audience(ctx: Context) -> None:
    rows = [[ctx.button(f"broadcast.kind.{kind.value}", f"bc:a:{kind.value}")] for kind in AudienceKind]
    ctx.say("broadcast.ask_audience", buttons=[*rows, [_cancel(ctx)]])


async def _audience_kind(ctx: Context, value: str) -> None:
    try:
        kind = AudienceKind(value)
    except ValueError:
        raise StaleAction(f"unknown audience {value!r}") from None
    if kind in SIMPLE:
        ctx.state.goto("preview", audience=Audience(kind).key)
        await _preview(ctx)
    elif kind is AudienceKind.PLACE:
        ctx.state.goto("place")
        rows = [[Button(name, f"bc:r:{index}")] for index, name in enumerate(REGIONS)]
        ctx.say("broadcast.ask_place", buttons=[*rows, [_cancel(ctx)]])
    elif kind is AudienceKind.LANGUAGE:
        rows = [[ctx.button(f"lang.{code}", f"bc:l:{code}") for code in LANGUAGES]]
        ctx.say("broadcast.ask_language", buttons=[*rows, [_cancel(ctx)]])
    else:
        events = [(event, n) for event, n in await all_events(ctx.session, limit=20) if n][:10]
        if not events:
            ctx.say("broadcast.no_events", buttons=[[ctx.button("broadcast.change_audience", "bc:back")]])
            return
        rows = [[Button(f"{event.name[:50]} ({n})", f"bc:e:{event.id}")] for event, n in events]
        ctx.say("broadcast.ask_event", buttons=[*rows, [_cancel(ctx)]])


async def _chosen(ctx: Context, what: str, value: str) -> Audience:
    if what == "r":
        return Audience.of_place(geography.resolve(REGIONS[parse_index(value, len(REGIONS))]).candidates[0])
    if what == "pc":
        names: list[list[str]] = ctx.state.data.get("places", [])
        kind, name = names[parse_index(value, len(names))]
        return Audience(AudienceKind.PLACE, f"{kind}:{name}")
    if what == "l":
        if value not in LANGUAGES:
            raise StaleAction(f"unknown language {value!r}")
        return Audience(AudienceKind.LANGUAGE, value)
    event = await get_event(ctx.session, parse_id(value))
    return Audience(AudienceKind.EVENT, str(event.id))


async def _place_typed(ctx: Context, text: str) -> None:
    found = geography.resolve(text).candidates
    if not found:
        ctx.say("broadcast.place_unknown", place=text[:100])
    elif len(found) == 1:
        ctx.state.goto("preview", audience=Audience.of_place(found[0]).key)
        await _preview(ctx)
    else:
        ctx.state.goto("place", places=[[place.kind.value, place.name] for place in found])
        rows = [[Button(place.name, f"bc:pc:{index}")] for index, place in enumerate(found)]
        ctx.say("broadcast.place_which", place=text[:100], buttons=[*rows, [_cancel(ctx)]])


async def _preview(ctx: Context) -> None:
    """The message as recipients will see it, then who gets it, how many, and the Send button."""
    data = ctx.state.data
    audience = Audience.parse(data["audience"])
    count = bc.count_of(await bc.recipients(ctx.session, audience))
    ctx.send(Reply(data["text"], photo=await _photo(ctx, data.get("photo", ""))))
    change = ctx.button("broadcast.change_audience", "bc:back")
    described = await describe(ctx, audience)
    if not count.total:
        ctx.say("broadcast.no_recipients", audience=described, buttons=[[change], [_cancel(ctx)]])
        return
    channels = ", ".join(f"{ctx.t(f'channel.{name}')} {n}" for name, n in sorted(count.by_channel.items()))
    roles = ", ".join(f"{ctx.t(f'broadcast.role.{name}')} {n}" for name, n in sorted(count.by_role.items()))
    text = ctx.t("broadcast.preview", audience=described, count=count.total, channels=channels, roles=roles)
    if ref_id(data.get("photo", "")) is not None:
        text += "\n" + ctx.t("broadcast.preview_photo_sent")
    elif data.get("photo"):
        text += "\n" + ctx.t("broadcast.preview_photo", url=data["photo"])
    send = ctx.button("broadcast.send", "bc:send", count=count.total)
    ctx.send(Reply(text, buttons=((send,), (change,), (_cancel(ctx),))))


async def _photo(ctx: Context, photo: str) -> str | Attachment:
    """The photo for the preview: a link as it is, a picture the admin sent as the image itself."""
    file_id = ref_id(photo)
    if file_id is None:
        return photo
    kept = await load(ctx.session, file_id, ctx.now)
    if kept is None:
        raise StaleAction("the broadcast's photo is no longer kept")
    return Attachment(kept.filename, kept.data, kept.mime)


async def _send(ctx: Context) -> None:
    data = ctx.state.data
    audience = Audience.parse(data["audience"])
    broadcast = await bc.create_broadcast(  # StaleAction when the audience emptied since the preview
        ctx.session, ctx.user, channel=ctx.incoming.channel, chat_id=ctx.incoming.chat_id, text=data["text"],
        photo=data.get("photo", ""), audience=audience, now=ctx.now,
    )
    ctx.state.leave()
    ctx.say("broadcast.queued", number=broadcast.id, count=broadcast.total)


async def describe(ctx: Context, audience: Audience) -> str:
    t = ctx.t
    if audience.kind is AudienceKind.PLACE:
        place = audience.place
        regions = ", ".join(sorted({geography.region_of(unit) for unit in place.provinces}))
        return t("broadcast.audience.place", place=place.name, regions=regions)
    if audience.kind is AudienceKind.EVENT:
        event = await get_event(ctx.session, int(audience.value))
        return t("broadcast.audience.event", event=event.name)
    if audience.kind is AudienceKind.LANGUAGE:
        return t("broadcast.audience.lang", language=t(f"lang.{audience.value}"))
    return t(f"broadcast.audience.{audience.kind.value}")


def _cancel(ctx: Context) -> Button:
    return ctx.button("flow.cancel", "cancel")


# -- following and stopping -------------------------------------------------------------------------------------


async def status(ctx: Context) -> None:
    require_admin(ctx)
    found = await bc.recent_broadcasts(ctx.session)
    if not found:
        ctx.say("broadcast.none")
        return
    for broadcast in found:
        ctx.send(progress_reply(ctx.t, await bc.progress(ctx.session, broadcast), ctx.now))


async def choose_stop(ctx: Context) -> None:
    require_admin(ctx)
    active = await bc.active_broadcasts(ctx.session)
    if not active:
        ctx.say("broadcast.nothing_to_stop")
        return
    rows = []
    for broadcast in active:
        done = await bc.progress(ctx.session, broadcast)
        label = ctx.t("broadcast.stop_number", number=broadcast.id, handled=done.handled, total=done.total)
        rows.append([Button(label, f"bx:{broadcast.id}:y")])
    ctx.say("broadcast.choose_stop", buttons=rows)


async def stop(ctx: Context, arg: str) -> None:
    """bx:<id> asks to confirm (the button under a progress message); bx:<id>:y stops the broadcast."""
    require_admin(ctx)
    number, _, confirmed = arg.partition(":")
    broadcast = await bc.get_broadcast(ctx.session, parse_id(number))
    if confirmed != "y":
        done = await bc.progress(ctx.session, broadcast)
        if done.status != BroadcastStatus.SENDING.value:
            raise StaleAction("already finished")
        ctx.say("broadcast.stop_confirm", number=broadcast.id, sent=done.sent, total=done.total,
                remaining=done.remaining, buttons=[[ctx.button("broadcast.stop", f"bx:{broadcast.id}:y")]])
        return
    await bc.cancel_broadcast(ctx.session, ctx.user, broadcast.id or 0, ctx.now)
    ctx.send(progress_reply(ctx.t, await bc.progress(ctx.session, broadcast), ctx.now))


def progress_reply(t: Translator, progress: Progress, now: datetime) -> Reply:
    """Where a broadcast stands: sent / failed / blocked / remaining / time left; a Stop button while it runs."""
    eta = progress.eta(now)
    text = t(
        "broadcast.progress",
        number=progress.broadcast_id,
        state=t(f"broadcast.state.{progress.status}"),
        sent=progress.sent,
        total=progress.total,
        failed=progress.failed,
        blocked=progress.blocked,
        remaining=progress.remaining,
        eta=duration(t, eta) if eta is not None else t("broadcast.eta_unknown"),
    )
    if progress.cancelled:
        text += "\n" + t("broadcast.not_sent", count=progress.cancelled)
    if progress.status != BroadcastStatus.SENDING.value:
        return Reply(text)
    return Reply(text, buttons=((Button(t("broadcast.stop"), f"bx:{progress.broadcast_id}"),),))


def duration(t: Translator, span: timedelta) -> str:
    seconds = max(1, round(span.total_seconds()))
    if seconds < 90:
        return t("broadcast.seconds", n=seconds)
    minutes = round(seconds / 60)
    if minutes < 120:
        return t("broadcast.minutes", n=minutes)
    return t("broadcast.hours", hours=minutes // 60, minutes=minutes % 60)
