"""Asking for contact: the buyer writes a message, volume and season; the producer (or the office) is told."""

from __future__ import annotations

from handlers.context import Context, parse_id
from handlers.i18n import Translator
from handlers.inbox import answer_buttons
from handlers.messages import Reply
from models.catalog import Producer, Product, visible_product
from models.errors import StaleAction
from models.people import Role, User, users_of_producer, users_with_role
from models.requests import MAX_DETAIL, MAX_MESSAGE, ContactRequest, check_can_request, create_request

FLOW = "contact"


async def begin(ctx: Context, arg: str) -> None:
    product_id = parse_id(arg)
    if not ctx.user.is_buyer:
        if ctx.user.role == Role.NONE.value:
            ctx.say("contact.register_first", buttons=[[ctx.button("contact.register", "start")]])
        else:
            ctx.say("contact.buyers_only")
        return
    found = await visible_product(ctx.session, product_id)
    if found is None:
        raise StaleAction("product not listed")
    await check_can_request(ctx.session, ctx.user, product_id, ctx.services.policy, ctx.now)
    product, _producer = found
    ctx.state.enter(FLOW, "message", product_id=product_id, product=product.name)
    ctx.say("contact.ask_message", product=product.name, limit=MAX_MESSAGE)


async def on_text(ctx: Context, text: str) -> None:
    step, value = ctx.state.step, text.strip()
    limit = MAX_MESSAGE if step == "message" else MAX_DETAIL
    if len(value) > limit:
        ctx.say("input.too_long", limit=limit)
        return
    if step == "message":
        if not value:
            ctx.say("contact.ask_message", product=ctx.state.data["product"], limit=MAX_MESSAGE)
            return
        ctx.state.goto("volume", message=value)
        ctx.say("contact.ask_volume", buttons=[[ctx.button("flow.skip", "cf:skip")]])
    elif step == "volume":
        ctx.state.goto("season", volume=value)
        ctx.say("contact.ask_season", buttons=[[ctx.button("flow.skip", "cf:skip")]])
    elif step == "season":
        ctx.state.goto("confirm", season=value)
        _confirm(ctx)
    else:
        ctx.say("flow.use_buttons")


async def on_button(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW:
        raise StaleAction("no request being written")
    if arg == "skip" and ctx.state.step == "volume":
        ctx.state.goto("season", volume="")
        ctx.say("contact.ask_season", buttons=[[ctx.button("flow.skip", "cf:skip")]])
    elif arg == "skip" and ctx.state.step == "season":
        ctx.state.goto("confirm", season="")
        _confirm(ctx)
    elif arg == "send" and ctx.state.step == "confirm":
        await _send(ctx)
    else:
        raise StaleAction(f"{arg!r} at step {ctx.state.step!r}")


def _confirm(ctx: Context) -> None:
    data = ctx.state.data
    none = ctx.t("contact.not_given")
    ctx.say(
        "contact.confirm",
        product=data["product"],
        message=data["message"],
        volume=data.get("volume") or none,
        season=data.get("season") or none,
        buttons=[[ctx.button("contact.send", "cf:send"), ctx.button("flow.cancel", "cancel")]],
    )


async def _send(ctx: Context) -> None:
    data = ctx.state.data
    request, memo = await create_request(
        ctx.session,
        ctx.user,
        int(data["product_id"]),
        message=data["message"],
        volume=data.get("volume", ""),
        season=data.get("season", ""),
        policy=ctx.services.policy,
        now=ctx.now,
    )
    found = await visible_product(ctx.session, request.product_id)
    assert found is not None
    product, producer = found
    producers = await users_of_producer(ctx.session, producer.id or 0)
    for recipient in producers:
        ctx.notify(recipient, lambda t: request_notice(t, request, product, producer, ctx.user, for_admin=False))
    if not producers:
        for admin in await users_with_role(ctx.session, Role.ADMIN):
            ctx.notify(admin, lambda t: request_notice(t, request, product, producer, ctx.user, for_admin=True))
    ctx.state.leave()
    key = "contact.sent" if producers else "contact.sent_relayed"
    ctx.say(key, product=product.name, number=request.id, memo=memo.id)


def request_notice(
    t: Translator, request: ContactRequest, product: Product, producer: Producer, buyer: User, *, for_admin: bool
) -> Reply:
    """What the producer (or, for producers not on the bot, the office) receives, with Accept/Decline."""
    none = t("contact.not_given")
    text = t(
        "inbox.new_request",
        number=request.id,
        product=product.name,
        buyer=buyer.display_name or t("inbox.a_buyer"),
        message=request.message,
        volume=request.volume or none,
        season=request.season or none,
    )
    if for_admin:
        contact = {"producer": producer.name, "phone": producer.phone or none, "email": producer.email or none}
        text += "\n\n" + t("inbox.relay", **contact)
    return Reply(text, buttons=answer_buttons(t, request.id))
