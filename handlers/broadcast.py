"""/broadcast (admins): compose a text (and a photo: sent from the phone, or a link) → choose the audience →
preview with the number of recipients → confirm; /broadcast status, /broadcast cancel. The sender worker
(bot/broadcast_sender.py) sends it and reports progress with ``progress_reply``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import flow
from handlers.actions import StopBroadcast, positive
from handlers.admin import require_admin
from handlers.context import Context
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin
from handlers.i18n import LANGUAGES, Translator
from handlers.messages import Attachment, Button, Reply
from models import broadcasts as bc
from models import geography, parse
from models.broadcasts import Audience, AudienceKind, BroadcastStatus, Progress
from models.errors import Stale, StaleAction
from models.events import all_events, get_event
from models.stored_files import MAX_IMAGE_BYTES, file_ref, image_type, load, ref_id, store
from models.text import normalize

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
        await begin(ctx, COMPOSE)
    elif word in {"status", "trang thai"}:
        await status(ctx)
    elif word in {"cancel", "stop", "huy", "dung"}:
        await choose_stop(ctx)
    else:
        ctx.say("broadcast.usage")


# -- composing: text → photo → audience (→ place, language or event) → preview → send ---------------------------


async def _ask_text(ctx: Context) -> Question:
    return Question(ctx.t("broadcast.ask_text", limit=bc.MAX_TEXT), cancel=True)


async def _ask_photo(ctx: Context) -> Question:
    return Question(ctx.t("broadcast.ask_photo"), cancel=True)


async def _read_photo(ctx: Context, given: str | bytes) -> str:
    """A link typed, or a picture sent from the phone (kept as a stored file for the recipients)."""
    if isinstance(given, str):
        if len(given) > bc.MAX_PHOTO_URL or not _URL.match(given):
            raise Invalid("broadcast.photo_invalid")
        return given
    mime = image_type(given) if 0 < len(given) <= MAX_IMAGE_BYTES else None
    if mime is None:
        raise Invalid("broadcast.photo_unusable", limit=MAX_IMAGE_BYTES // (1024 * 1024))
    text = ctx.state.data.get("text") or ""
    if len(text) > PICTURE_TEXT_LIMIT:
        raise Invalid("broadcast.photo_text_too_long", limit=PICTURE_TEXT_LIMIT, length=len(text))
    name = f"broadcast-photo.{mime.removeprefix('image/').replace('jpeg', 'jpg')}"
    kept = await store(ctx.session, name, mime, given, ctx.now, PHOTO_KEPT)
    return file_ref(kept)


async def _ask_audience(ctx: Context) -> Question:
    options = tuple(Option(kind.value, ctx.t(f"broadcast.kind.{kind.value}")) for kind in AudienceKind)
    return Question(ctx.t("broadcast.ask_audience"), options, cancel=True)


async def _after_audience(ctx: Context) -> str:
    kind = AudienceKind(ctx.state.data["audience"])
    if kind in SIMPLE:
        ctx.state.goto("audience", chosen=Audience(kind).key)
        return "preview"
    return {AudienceKind.PLACE: "place", AudienceKind.LANGUAGE: "language"}.get(kind, "event")


async def _ask_place(ctx: Context) -> Question:
    options = tuple(Option(str(index), name) for index, name in enumerate(REGIONS))
    return Question(ctx.t("broadcast.ask_place"), options, cancel=True)


async def _read_place(ctx: Context, text: str) -> str:
    """A place typed by name (old or new, any spelling) instead of a region from the menu."""
    found = geography.resolve(text).candidates
    if not found:
        raise Invalid("broadcast.place_unknown", place=text[:100])
    if len(found) > 1:
        ctx.state.goto("place", candidates=[[place.kind.value, place.name] for place in found], typed=text[:100])
        return "which"
    ctx.state.goto("place", chosen=Audience.of_place(found[0]).key)
    return "typed"


async def _after_place(ctx: Context) -> str:
    answer = ctx.state.data["place"]
    index = parse.number(answer, high=len(REGIONS) - 1)
    if index is not None:  # a region from the menu
        region = geography.resolve(REGIONS[index]).candidates[0]
        ctx.state.goto("place", chosen=Audience.of_place(region).key)
    return "which" if answer == "which" else "preview"


async def _ask_which(ctx: Context) -> Question:
    candidates = ctx.state.data.get("candidates", [])
    options = tuple(Option(str(index), name) for index, (_kind, name) in enumerate(candidates))
    return Question(ctx.t("broadcast.place_which", place=ctx.state.data.get("typed", "")), options, cancel=True)


async def _after_which(ctx: Context) -> str:
    kind, name = ctx.state.data["candidates"][int(ctx.state.data["which"])]
    ctx.state.goto("which", chosen=Audience(AudienceKind.PLACE, f"{kind}:{name}").key)
    return "preview"


async def _ask_language(ctx: Context) -> Question:
    options = tuple(Option(code, ctx.t(f"lang.{code}")) for code in LANGUAGES)
    return Question(ctx.t("broadcast.ask_language"), options, cancel=True)


async def _after_language(ctx: Context) -> str:
    ctx.state.goto("language", chosen=Audience(AudienceKind.LANGUAGE, ctx.state.data["language"]).key)
    return "preview"


async def _events(ctx: Context) -> list[tuple[int, str]]:
    return [(event.id or 0, f"{event.name} ({n})") for event, n in await all_events(ctx.session, limit=20) if n][:10]


async def _ask_event(ctx: Context) -> Question:
    events = await _events(ctx)
    if not events:  # nothing to choose: back to the audience
        return Question(ctx.t("broadcast.no_events"), (Option("back", ctx.t("broadcast.change_audience")),))
    return Question(ctx.t("broadcast.ask_event"), tuple(Option(str(i), name) for i, name in events), cancel=True)


async def _after_event(ctx: Context) -> str:
    if ctx.state.data["event"] == "back":
        return "audience"
    event = await get_event(ctx.session, int(ctx.state.data["event"]))
    ctx.state.goto("event", chosen=Audience(AudienceKind.EVENT, str(event.id)).key)
    return "preview"


async def _ask_preview(ctx: Context) -> Question:
    """The message as recipients will see it, then who gets it, how many, and the Send button."""
    data = ctx.state.data
    audience = Audience.parse(data["chosen"])
    count = bc.count_of(await bc.recipients(ctx.session, audience, ctx.services.broadcast_channels))
    shown = Reply(data["text"], photo=await _photo(ctx, data.get("photo") or ""))
    change = Option("back", ctx.t("broadcast.change_audience"))
    described = await describe(ctx, audience)
    if not count.total:
        return Question(ctx.t("broadcast.no_recipients", audience=described), (change,), cancel=True, before=(shown,))
    channels = ", ".join(f"{ctx.t(f'channel.{name}')} {n}" for name, n in sorted(count.by_channel.items()))
    roles = ", ".join(f"{ctx.t(f'broadcast.role.{name}')} {n}" for name, n in sorted(count.by_role.items()))
    text = ctx.t("broadcast.preview", audience=described, count=count.total, channels=channels, roles=roles)
    if ref_id(data.get("photo") or "") is not None:
        text += "\n" + ctx.t("broadcast.preview_photo_sent")
    elif data.get("photo"):
        text += "\n" + ctx.t("broadcast.preview_photo", url=data["photo"])
    send = Option("send", ctx.t("broadcast.send", count=count.total))
    return Question(text, (send, change), cancel=True, before=(shown,))


async def _after_preview(ctx: Context) -> str | None:
    return "audience" if ctx.state.data["preview"] == "back" else None


async def _photo(ctx: Context, photo: str) -> str | Attachment:
    """The photo for the preview: a link as it is, a picture the admin sent as the image itself."""
    file_id = ref_id(photo)
    if file_id is None:
        return photo
    kept = await load(ctx.session, file_id, ctx.now)
    if kept is None:
        raise StaleAction("the broadcast's photo is no longer kept", Stale.EXPIRED)
    return Attachment(kept.filename, kept.data, kept.mime)


async def _send(ctx: Context) -> None:
    data = ctx.state.data
    audience = Audience.parse(data["chosen"])
    broadcast = await bc.create_broadcast(  # StaleAction when the audience emptied since the preview
        ctx.session, ctx.user, channel=ctx.incoming.channel, chat_id=ctx.incoming.chat_id, text=data["text"],
        photo=data.get("photo") or "", audience=audience, channels=ctx.services.broadcast_channels, now=ctx.now,
    )
    ctx.state.leave()
    ctx.say("broadcast.queued", number=broadcast.id, count=broadcast.total)


COMPOSE = flow.register(
    Flow(
        "broadcast",
        (
            Step("text", Kind.TEXT, _ask_text, then="photo", limit=bc.MAX_TEXT),
            Step("photo", Kind.IMAGE, _ask_photo, read=_read_photo, skip=True, then="audience"),
            Step("audience", Kind.CHOICE, _ask_audience, then=_after_audience),
            Step("place", Kind.CHOICE, _ask_place, read=_read_place, then=_after_place),
            Step("which", Kind.CHOICE, _ask_which, then=_after_which),
            Step("language", Kind.CHOICE, _ask_language, then=_after_language),
            Step("event", Kind.CHOICE, _ask_event, then=_after_event),
            Step("preview", Kind.CHOICE, _ask_preview, then=_after_preview),
        ),
        done=_send,
        guard=require_admin,
    )
)


async def describe(ctx: Context, audience: Audience) -> str:
    return await describe_audience(ctx.t, ctx.session, audience)


async def describe_audience(t: Translator, session: AsyncSession, audience: Audience) -> str:
    """Who a broadcast goes to, in words ("Người mua", "Sự kiện …")."""
    if audience.kind is AudienceKind.PLACE:
        place = audience.place
        regions = ", ".join(sorted({geography.region_of(unit) for unit in place.provinces}))
        return t("broadcast.audience.place", place=place.name, regions=regions)
    if audience.kind is AudienceKind.EVENT:
        event = await get_event(session, int(audience.value))
        return t("broadcast.audience.event", event=event.name)
    if audience.kind is AudienceKind.LANGUAGE:
        return t("broadcast.audience.lang", language=t(f"lang.{audience.value}"))
    return t(f"broadcast.audience.{audience.kind.value}")


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
        rows.append([Button(label, StopBroadcast(broadcast.id or 0, "y").encode())])
    ctx.say("broadcast.choose_stop", buttons=rows)


async def stop(ctx: Context, action: StopBroadcast) -> None:
    """The Stop button under a progress message asks to confirm; the confirmation ("y") stops the broadcast."""
    require_admin(ctx)
    broadcast = await bc.get_broadcast(ctx.session, positive(action.broadcast))
    if action.confirmed != "y":
        done = await bc.progress(ctx.session, broadcast)
        if done.status != BroadcastStatus.SENDING.value:
            raise StaleAction("already finished", Stale.ANSWERED)
        confirm = ctx.button("broadcast.stop", StopBroadcast(broadcast.id or 0, "y"))
        ctx.say("broadcast.stop_confirm", number=broadcast.id, sent=done.sent, total=done.total,
                remaining=done.remaining, buttons=[[confirm]])
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
    return Reply(text, buttons=((Button(t("broadcast.stop"), StopBroadcast(progress.broadcast_id).encode()),),))


def duration(t: Translator, span: timedelta) -> str:
    seconds = max(1, round(span.total_seconds()))
    if seconds < 90:
        return t("broadcast.seconds", n=seconds)
    minutes = round(seconds / 60)
    if minutes < 120:
        return t("broadcast.minutes", n=minutes)
    return t("broadcast.hours", hours=minutes // 60, minutes=minutes % 60)
