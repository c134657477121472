"""Asking for contact: the buyer writes a message, volume and season; the producer (or the office) is told."""

from __future__ import annotations

from handlers.actions import ContactProducer, Start, positive
from handlers.context import Context
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin, register
from handlers.i18n import Translator
from handlers.inbox import answer_buttons, buyer_lines
from handlers.messages import Reply
from models.catalog import Producer, Product, visible_product
from models.certificates import Validity, local_today, validity
from models.errors import Stale, StaleAction
from models.parties import BuyerFacts, buyer_facts
from models.people import Role, users_of_producer, users_with_role
from models.requests import MAX_DETAIL, MAX_MESSAGE, ContactRequest, check_can_request, create_request


async def begin_request(ctx: Context, action: ContactProducer) -> None:
    product_id = positive(action.product)
    if not ctx.user.is_buyer:
        if ctx.user.role == Role.NONE.value:
            ctx.say("contact.register_first", buttons=[[ctx.button("contact.register", Start())]])
        else:
            ctx.say("contact.buyers_only")
        return
    found = await visible_product(ctx.session, product_id)
    if found is None:
        raise StaleAction("product not listed", Stale.GONE)
    await check_can_request(ctx.session, ctx.user, product_id, ctx.services.policy, ctx.now)
    product, _producer = found
    expired = validity(product.expires_on, local_today(ctx.now)) is Validity.EXPIRED
    extra = {"expired": f"{product.expires_on:%d/%m/%Y}"} if expired else {}
    await begin(ctx, CONTACT, product_id=product_id, product=product.name, **extra)


def _expiry_warning(ctx: Context) -> str:
    """The warning on a product whose certificate has ended, put before the questions that lead to sending."""
    data = ctx.state.data
    if "expired" not in data:
        return ""
    return ctx.t("contact.certificate_expired", product=data["product"], date=data["expired"]) + "\n\n"


async def _ask_message(ctx: Context) -> Question:
    text = ctx.t("contact.ask_message", product=ctx.state.data["product"], limit=MAX_MESSAGE)
    return Question(_expiry_warning(ctx) + text, cancel=True)


async def _read_message(_ctx: Context, text: str) -> str:
    if not text:
        raise Invalid("contact.message_empty")
    return text


async def _ask_volume(ctx: Context) -> Question:
    return Question(ctx.t("contact.ask_volume"))


async def _ask_season(ctx: Context) -> Question:
    return Question(ctx.t("contact.ask_season"))


async def _ask_confirm(ctx: Context) -> Question:
    data = ctx.state.data
    none = ctx.t("contact.not_given")
    text = ctx.t(
        "contact.confirm",
        product=data["product"],
        message=data["message"],
        volume=data.get("volume") or none,
        season=data.get("season") or none,
    )
    return Question(_expiry_warning(ctx) + text, (Option("send", ctx.t("contact.send")),), cancel=True)


async def _send(ctx: Context) -> None:
    data = ctx.state.data
    request, memo = await create_request(
        ctx.session,
        ctx.user,
        int(data["product_id"]),
        message=data["message"],
        volume=data.get("volume") or "",
        season=data.get("season") or "",
        policy=ctx.services.policy,
        now=ctx.now,
    )
    found = await visible_product(ctx.session, request.product_id)
    assert found is not None
    product, producer = found
    producers = await users_of_producer(ctx.session, producer.id or 0)
    buyer = await buyer_facts(ctx.session, ctx.user)
    for recipient in producers:
        ctx.notify(recipient, lambda t: request_notice(t, request, product, producer, buyer, for_admin=False))
    if not producers:
        for admin in await users_with_role(ctx.session, Role.ADMIN):
            ctx.notify(admin, lambda t: request_notice(t, request, product, producer, buyer, for_admin=True))
    ctx.state.leave()
    key = "contact.sent" if producers else "contact.sent_relayed"
    ctx.say(key, product=product.name, number=request.id, memo=memo.id)


CONTACT = register(
    Flow(
        "contact",
        (
            Step("message", Kind.TEXT, _ask_message, read=_read_message, then="volume", limit=MAX_MESSAGE),
            Step("volume", Kind.TEXT, _ask_volume, skip=True, then="season", limit=MAX_DETAIL),
            Step("season", Kind.TEXT, _ask_season, skip=True, then="confirm", limit=MAX_DETAIL),
            Step("confirm", Kind.CHOICE, _ask_confirm),
        ),
        done=_send,
    )
)


def request_notice(
    t: Translator, request: ContactRequest, product: Product, producer: Producer, buyer: BuyerFacts, *, for_admin: bool
) -> Reply:
    """What the producer (or, for producers not on the bot, the office) receives, with Accept/Decline: who the buyer
    is — company, kind, regions, how their phone was given, memos signed through the bot — but not how to reach
    them, which consent gives."""
    none = t("contact.not_given")
    text = t(
        "inbox.new_request",
        number=request.id,
        product=product.name,
        facts=buyer_lines(t, buyer),
        message=request.message,
        volume=request.volume or none,
        season=request.season or none,
    )
    if for_admin:
        contact = {"producer": producer.name, "phone": producer.phone or none, "email": producer.email or none}
        text += "\n\n" + t("inbox.relay", **contact)
    return Reply(text, buttons=answer_buttons(t, request.id))

