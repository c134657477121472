"""/start: the role, then the buyer's profile or the producer's claim of their catalogue record.

The language comes from the platform when it tells (Telegram's language_code), Vietnamese otherwise; /lang changes
it. A buyer is registered in five moves: /start, "buyer", the company's name, its kind, the phone (shared, typed or
skipped). Regions of interest are asked afterwards and may be left unanswered.
"""

from __future__ import annotations

from handlers import profile as party
from handlers.common import show_help
from handlers.context import Context
from handlers.flow import Flow, Invalid, Kind, Option, Question, Step, begin, register
from models import geography
from models.catalog import Producer, find_producers
from models.claims import WrongCode, redeem_code
from models.errors import TooManyAttempts
from models.people import BuyerKind, BuyerProfile, Role

REGIONS = tuple(geography.NEW_REGIONS)
MAX_COMPANY = 200


async def start(ctx: Context, arg: object = None) -> None:
    """/start, or ``/start <payload>`` from a deep link (a QR code at a fair, a shared card)."""
    if isinstance(arg, str) and arg.strip():
        from handlers.deeplink import open_payload

        await open_payload(ctx, arg.strip())
        return
    if ctx.user.is_admin:
        ctx.say("start.admin")
        await show_help(ctx)
        return
    await begin(ctx, ONBOARDING, greet=True)


# -- the role -------------------------------------------------------------------------------------------------------


async def _ask_role(ctx: Context) -> Question:
    """The role, greeted the first time it is asked (one message, not a welcome and then the question)."""
    greeting = f"{ctx.t('start.welcome')}\n\n" if ctx.state.data.pop("greet", False) else ""
    return Question(
        greeting + ctx.t("start.role"),
        (Option("buyer", ctx.t("start.role_buyer")), Option("producer", ctx.t("start.role_producer"))),
    )


async def _after_role(ctx: Context) -> str:
    return "company" if ctx.state.data["role"] == "buyer" else "find"


# -- buyer ------------------------------------------------------------------------------------------------------


async def _ask_company(ctx: Context) -> Question:
    return Question(ctx.t("start.ask_company"))


async def _read_company(ctx: Context, text: str) -> str:
    if not text or len(text) > MAX_COMPANY:
        raise Invalid("start.company_invalid", limit=MAX_COMPANY)
    return text


async def _ask_kind(ctx: Context) -> Question:
    return Question(ctx.t("start.ask_kind"), tuple(Option(k.value, ctx.t(f"buyer_kind.{k.value}")) for k in BuyerKind))


async def _ask_phone(ctx: Context) -> Question:
    return Question(ctx.t("start.ask_phone"), request_contact=ctx.t("start.phone_share"))


async def _finish_buyer(ctx: Context) -> None:
    data = ctx.state.data
    assert ctx.user.id is not None
    if data.get("phone"):
        ctx.user.phone = data["phone"]
        ctx.user.phone_verified = data["phone"] == data.get("phone_shared")  # not typed
    profile = await ctx.session.get(BuyerProfile, ctx.user.id) or BuyerProfile(user_id=ctx.user.id)
    profile.company = data.get("company", "")
    profile.kind = data.get("kind", BuyerKind.DISTRIBUTOR.value)
    ctx.session.add(profile)
    if not ctx.user.is_admin:
        ctx.user.role = Role.BUYER.value
    ctx.say("start.buyer_done", company=profile.company)
    known = [str(REGIONS.index(name)) for name in profile.regions or [] if name in REGIONS]
    await begin(ctx, REGIONS_OF_INTEREST, regions=known)


async def shared_contact(ctx: Context, phone: str) -> None:
    """The user shared their own number through the platform's button: consent to store it."""
    from handlers import flow  # the question on screen may be the phone step of onboarding

    if flow.expects(ctx, Kind.PHONE):
        ctx.state.data["phone_shared"] = phone[:40]
        await flow.on_value(ctx, phone[:40])
    else:
        ctx.user.phone, ctx.user.phone_verified = phone[:40], True
        ctx.say("start.phone_saved")


# -- regions of interest (after registering; may be left unanswered) ---------------------------------------------


async def _ask_regions(ctx: Context) -> Question:
    return Question(ctx.t("start.ask_regions"), tuple(Option(str(i), name) for i, name in enumerate(REGIONS)))


async def _save_regions(ctx: Context) -> None:
    assert ctx.user.id is not None
    profile = await ctx.session.get(BuyerProfile, ctx.user.id) or BuyerProfile(user_id=ctx.user.id)
    answer = ctx.state.data.get("regions")
    if answer is not None:  # skipped: the regions stay as they were
        chosen = {int(index) for index in answer}
        profile.regions = [name for i, name in enumerate(REGIONS) if i in chosen]
        ctx.session.add(profile)
    ctx.state.leave()
    ctx.say("start.regions_saved" if profile.regions else "start.regions_none")
    await party.offer(ctx)
    await _back_to_link(ctx)


# -- producer ---------------------------------------------------------------------------------------------------


async def _ask_name(ctx: Context) -> Question:
    return Question(ctx.t("claim.ask_name"))


async def _read_name(ctx: Context, text: str) -> str:
    producers = await find_producers(ctx.session, text)
    if not producers:
        raise Invalid("claim.not_found")
    ctx.state.goto("find", candidates=[p.id for p in producers])
    return text


async def _ask_pick(ctx: Context) -> Question:
    ids = [int(i) for i in ctx.state.data.get("candidates", [])]
    producers = [p for p in [await ctx.session.get(Producer, i) for i in ids] if p is not None]
    return Question(ctx.t("claim.pick"), tuple(Option(str(p.id), f"{p.name} — {p.province}") for p in producers))


async def _ask_code(ctx: Context) -> Question:
    producer = await ctx.session.get(Producer, int(ctx.state.data["pick"]))
    return Question(ctx.t("claim.ask_code", producer=producer.name if producer else "?"))


async def _read_code(ctx: Context, text: str) -> int:
    """The claimed producer's id. Wrong codes are counted on the server, per producer (models.claims): starting
    again or picking the record again gives no new tries."""
    try:
        producer = await redeem_code(ctx.session, ctx.user, int(ctx.state.data["pick"]), text, ctx.now)
    except TooManyAttempts:
        ctx.state.leave()
        ctx.say("claim.too_many")
        return 0
    except WrongCode as wrong:
        if wrong.left is None:
            raise Invalid("claim.invalid_code") from None
        raise Invalid("claim.invalid", left=wrong.left) from None
    return producer.id or 0


async def _finish_claim(ctx: Context) -> None:
    producer = await ctx.session.get(Producer, int(ctx.state.data["code"]))
    ctx.state.leave()
    ctx.say("claim.done", producer=producer.name if producer else "")
    await party.offer(ctx)
    await _back_to_link(ctx)


async def _back_to_link(ctx: Context) -> None:
    """Registered from a deep link: back to where it led, unless a question (the memo details) is on screen; that
    flow's end goes back instead (handlers.profile)."""
    from handlers import flow
    from handlers.deeplink import resume

    if flow.current(ctx) is None:
        await resume(ctx)


async def _finish(ctx: Context) -> None:
    if ctx.state.data.get("role") == "buyer":
        await _finish_buyer(ctx)
    else:
        await _finish_claim(ctx)


ONBOARDING = register(
    Flow(
        "onboard",
        (
            Step("role", Kind.CHOICE, _ask_role, then=_after_role),
            Step("company", Kind.TEXT, _ask_company, read=_read_company, then="kind", limit=MAX_COMPANY),
            Step("kind", Kind.CHOICE, _ask_kind, then="phone"),
            Step("phone", Kind.PHONE, _ask_phone, skip=True),
            Step("find", Kind.TEXT, _ask_name, read=_read_name, then="pick"),
            Step("pick", Kind.CHOICE, _ask_pick, then="code"),
            Step("code", Kind.TEXT, _ask_code, read=_read_code),
        ),
        done=_finish,
    )
)

REGIONS_OF_INTEREST = register(
    Flow("regions", (Step("regions", Kind.MULTI, _ask_regions, skip=True),), done=_save_regions, optional=True)
)
