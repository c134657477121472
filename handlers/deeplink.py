"""Deep links and QR codes: opening one (``/start <payload>`` on Telegram, the code typed on Zalo or the console)
lands on the product, the producer's products, the event, the claim step or /link, in the user's language, whether
or not they have registered; a registration started from there comes back to it. The card's "Share" gives the link
and a text to forward; ``/qr`` gives admins the codes and an event's printable booth sheet.

Links are signed (models.deeplinks): an unknown, tampered or expired one opens the start screen with a polite note.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import link as account_link
from handlers.actions import ShareProduct, ShowEvent, ShowProducer, ShowProduct, positive
from handlers.admin import require_admin
from handlers.common import show_help
from handlers.context import Context
from handlers.i18n import Translator
from handlers.messages import Attachment, Button, Reply
from models import parse
from models.booth_sheet import SheetWords, booth_codes, exhibitors, sheet_docx
from models.catalog import Producer, Product, products_of, visible_product
from models.deeplinks import DeepLink, LinkBook, Target
from models.errors import Stale, StaleAction
from models.events import Event, local_day
from models.people import Role
from models.qr import qr_png, qr_svg
from models.scans import EVENT_GRACE, heading, record_scan


async def open_payload(ctx: Context, payload: str) -> None:
    """``/start <payload>``: where the link leads, or the start screen with a note when it leads nowhere."""
    link = ctx.services.links.read(payload)
    if link is None:
        await _start_screen(ctx, "deeplink.invalid")
        return
    await open_link(ctx, link)


async def open_typed(ctx: Context, text: str) -> bool:
    """A message that is one of our codes (typed from a poster where the link cannot carry it) opens it."""
    link = ctx.services.links.typed(text)
    if link is None:
        return False
    await open_link(ctx, link)
    return True


async def open_link(ctx: Context, link: DeepLink) -> None:
    ctx.state.leave()  # a scan is a fresh start: whatever was being asked is dropped
    event_id, booth = await _live_event(ctx, link)
    assert ctx.user.id is not None
    await record_scan(ctx.session, ctx.user.id, ctx.incoming.channel, link.target.value, link.item, event_id, booth,
                      registered=ctx.user.role != Role.NONE.value, now=ctx.now)
    try:
        await _land(ctx, link.target, link.item)
    except StaleAction:
        await _start_screen(ctx, "deeplink.gone")


async def _land(ctx: Context, target: Target, item: int) -> None:
    if target is Target.PRODUCT:
        from handlers.product import show

        await show(ctx, ShowProduct(item))
    elif target is Target.PRODUCER:
        await show_producer(ctx, ShowProducer(item))
    elif target is Target.EVENT:
        event = await ctx.session.get(Event, item)
        if event is None or not event.scheduled or event.ends_on < local_day(ctx.now):
            await _start_screen(ctx, "deeplink.event_over")
            return
        from handlers.events import view

        await view(ctx, ShowEvent(item))
    elif target is Target.CLAIM:
        await _claim(ctx, item)
    else:
        await account_link.command(ctx, "")


async def _live_event(ctx: Context, link: DeepLink) -> tuple[int | None, str]:
    """The event and booth a scan counts for: none once the event was cancelled or ended EVENT_GRACE ago."""
    if link.event is None:
        return None, ""
    event = await ctx.session.get(Event, link.event)
    if event is None or not event.scheduled or local_day(ctx.now) > event.ends_on + EVENT_GRACE:
        return None, ""
    return link.event, link.booth


async def _claim(ctx: Context, producer_id: int) -> None:
    from handlers.flow import begin
    from handlers.start import ONBOARDING

    producer = await ctx.session.get(Producer, producer_id)
    if producer is None:
        raise StaleAction("no such producer", Stale.GONE)
    if ctx.user.is_producer:
        ctx.say("deeplink.already_producer")
        return
    await begin(ctx, ONBOARDING, at="code", role="producer", pick=str(producer_id))


async def _start_screen(ctx: Context, note: str) -> None:
    ctx.say(note)
    if ctx.user.role == Role.NONE.value and not ctx.user.is_admin:
        from handlers.start import start

        await start(ctx)
    else:
        await show_help(ctx)


async def show_producer(ctx: Context, action: ShowProducer) -> None:
    """A producer's listed products, each a button to its card."""
    producer = await ctx.session.get(Producer, positive(action.producer))
    products = await products_of(ctx.session, producer.id or 0) if producer is not None else []
    if producer is None or not products:
        raise StaleAction("producer has nothing listed", Stale.GONE)
    lines = [f"{n}. {p.name} — {'★' * p.stars}" for n, p in enumerate(products, start=1)]
    rows = tuple((Button(f"{n}. {p.name}", ShowProduct(p.id or 0).encode(), key=str(n)),)
                 for n, p in enumerate(products, start=1))
    text = ctx.t("deeplink.producer", producer=producer.name, place=producer.province, body="\n".join(lines))
    ctx.send(Reply(text, buttons=rows, listed=len(rows)))


async def resume(ctx: Context) -> None:
    """After registering: back to the card or event the user had opened by a link (within a day)."""
    assert ctx.user.id is not None
    scan = await heading(ctx.session, ctx.user.id, ctx.now)
    if scan is None or scan.target not in (Target.PRODUCT.value, Target.PRODUCER.value, Target.EVENT.value):
        return
    ctx.say("deeplink.resume")
    try:
        await _land(ctx, Target(scan.target), scan.item)
    except StaleAction:
        ctx.say("deeplink.gone")


# -- sharing --------------------------------------------------------------------------------------------------------


def share_button(ctx: Context, product: Product) -> list[Button]:
    """The card's "Share" button, when links can be made."""
    return [ctx.button("card.share", ShareProduct(product.id or 0))] if ctx.services.links.ready else []


async def share(ctx: Context, action: ShareProduct) -> None:
    found = await visible_product(ctx.session, positive(action.product))
    if found is None or not ctx.services.links.ready:
        raise StaleAction("product not listed", Stale.GONE)
    product, producer = found
    ctx.say("share.intro")
    ctx.send(Reply(share_text(ctx.t, ctx.services.links, product, producer)))


def share_text(t: Translator, links: LinkBook, product: Product, producer: Producer) -> str:
    """A few lines a buyer forwards to a colleague: what and whose, and how to open it on each channel."""
    link = DeepLink(Target.PRODUCT, product.id or 0)
    lines = [t("share.what", product=product.name, stars="★" * product.stars, producer=producer.name,
               place=producer.province)]
    lines.extend(_how_to_open(t, links, link))
    return "\n".join(lines)


def _how_to_open(t: Translator, links: LinkBook, link: DeepLink) -> list[str]:
    urls, code = links.urls(link), links.payload(link)
    lines = []
    if "telegram" in urls:
        lines.append(t("share.telegram", url=urls["telegram"]))
    for channel in ("zalo_oa", "zalo_bot"):
        if channel in urls:
            lines.append(t("share.zalo", url=urls[channel], code=code))
    if not urls:
        lines.append(t("share.code", code=code))
    return lines


# -- /qr (admins) ---------------------------------------------------------------------------------------------------

KINDS = {"product": Target.PRODUCT, "producer": Target.PRODUCER, "event": Target.EVENT}


@dataclass(frozen=True)
class Codes:
    """What ``/qr`` and ``ocop-bot qr`` make: the files, and the link and code they hold."""

    files: list[Attachment]
    url: str = ""
    code: str = ""
    labels: int = 0  # labels on the booth sheet


async def make_codes(
    session: AsyncSession, links: LinkBook, t: Translator, target: Target, item: int, *, event: int | None = None,
    booth: str = "", sheet: bool = True, booths: dict[int, str] | None = None, producers: tuple[int, ...] = (),
) -> Codes:
    """A PNG and an SVG of the link to ``target``, or for an event with ``sheet``, its booth sheet (DOCX). Raises
    StaleAction when the record is gone, LookupError when no links can be made, ValueError for a bad booth label."""
    if not links.ready:
        raise LookupError("no link key")
    if target is Target.EVENT and sheet:
        found = await session.get(Event, item)
        if found is None:
            raise StaleAction("no such event", Stale.GONE)
        chosen = await exhibitors(session, item, producers)
        codes = await booth_codes(session, found, links, chosen, booths)
        data = await asyncio.to_thread(sheet_docx, _sheet_words(t, found, links), codes)  # 600 labels: seconds
        return Codes([Attachment(f"ocop-booths-event-{item}.docx", data, DOCX)], labels=len(codes))
    name = await _name_of(session, target, item)
    link = DeepLink(target, item, event, booth)
    url = links.primary(link) or links.payload(link)
    stem = f"ocop-{target.name.lower()}-{item}" + (f"-e{event}" if event else "") + (f"-{link.booth}" if booth else "")
    files = [Attachment(f"{stem}.png", qr_png(url), "image/png"),
             Attachment(f"{stem}.svg", qr_svg(url, title=name), "image/svg+xml")]
    return Codes(files, url, links.payload(link))


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def _name_of(session: AsyncSession, target: Target, item: int) -> str:
    model = {Target.PRODUCT: Product, Target.PRODUCER: Producer, Target.EVENT: Event}[target]
    found = await session.get(model, item)
    if found is None or (isinstance(found, Product) and found.hidden):
        raise StaleAction("record gone", Stale.GONE)
    return found.name


def _sheet_words(t: Translator, event: Event, links: LinkBook) -> SheetWords:
    dates = f"{event.starts_on:%d/%m/%Y}" + (f"–{event.ends_on:%d/%m/%Y}" if event.ends_on != event.starts_on else "")
    how = t("qr.sheet_scan")
    zalo = links.zalo_oa_url or links.zalo_bot_url
    if zalo:
        how += " " + t("qr.sheet_zalo", url=zalo)
    subtitle = " — ".join(part for part in (event.venue, how) if part)
    return SheetWords(f"{event.name} ({dates})", subtitle, t("qr.sheet_booth"), t("qr.sheet_code"))


async def command(ctx: Context, arg: str) -> None:
    """/qr product ID | producer ID | event ID: the code's PNG and SVG (an event's: its booth sheet, DOCX)."""
    require_admin(ctx)
    word, _, rest = arg.strip().partition(" ")
    target = KINDS.get(word.lower())
    item = parse.record_id(rest)
    if target is None or item is None:
        ctx.say("qr.usage")
        return
    if not ctx.services.links.ready:
        ctx.say("qr.no_key")
        return
    try:
        codes = await make_codes(ctx.session, ctx.services.links, ctx.t, target, item)
    except StaleAction:
        ctx.say("qr.not_found")
        return
    if codes.labels or target is Target.EVENT:
        if not codes.labels:
            ctx.say("qr.sheet_empty")
            return
        ctx.send(Reply(ctx.t("qr.sheet", n=codes.labels), document=codes.files[0]))
        return
    text = ctx.t("qr.made", url=codes.url, code=codes.code)
    png, svg = codes.files
    if not ctx.capabilities.documents:  # (a channel that takes no files we make: the link and code only)
        ctx.send(Reply(text))
        return
    ctx.send(Reply(text, photo=png))
    ctx.send(Reply(svg.filename, document=svg))
