"""/start: language, role, then the buyer's profile or the producer's claim of their catalogue record."""

from __future__ import annotations

import re

from handlers.common import language_buttons, show_help
from handlers.context import Context, parse_id, parse_index
from handlers.messages import Button, Reply
from models import geography
from models.catalog import Producer, find_producers
from models.claims import MAX_ATTEMPTS, redeem_code
from models.errors import InvalidCode, StaleAction
from models.people import BuyerKind, BuyerProfile, Role

FLOW = "onboard"
REGIONS = tuple(geography.NEW_REGIONS)
MAX_COMPANY = 200
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,17}[0-9]$")


async def start(ctx: Context, _arg: str = "") -> None:
    if ctx.user.is_admin:
        ctx.say("start.admin")
        await show_help(ctx)
        return
    ctx.state.enter(FLOW, "lang")
    ctx.say("start.welcome", buttons=language_buttons(ctx))


async def ask_role(ctx: Context) -> None:
    ctx.state.enter(FLOW, "role")
    buyer, producer = ctx.button("start.role_buyer", "role:buyer"), ctx.button("start.role_producer", "role:producer")
    ctx.say("start.role", buttons=[[buyer], [producer]])


async def choose_role(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW:
        raise StaleAction("not onboarding")
    if arg == "buyer":
        ctx.state.enter(FLOW, "company")
        ctx.say("start.ask_company")
    elif arg == "producer":
        ctx.state.enter(FLOW, "find")
        ctx.say("claim.ask_name")
    else:
        raise StaleAction(f"unknown role {arg!r}")


async def on_text(ctx: Context, text: str) -> None:
    step = ctx.state.step
    if step == "company":
        await _company(ctx, text)
    elif step == "phone":
        await _typed_phone(ctx, text)
    elif step == "find":
        await _find_producer(ctx, text)
    elif step == "code":
        await _code(ctx, text)
    else:  # a step answered with buttons: repeat the question
        ctx.say("flow.use_buttons")


# -- buyer ------------------------------------------------------------------------------------------------------


async def _company(ctx: Context, text: str) -> None:
    company = text.strip()
    if not company or len(company) > MAX_COMPANY:
        ctx.say("start.company_invalid", limit=MAX_COMPANY)
        return
    ctx.state.goto("kind", company=company)
    rows = [[ctx.button(f"buyer_kind.{kind.value}", f"bk:{kind.value}")] for kind in BuyerKind]
    ctx.say("start.ask_kind", buttons=rows)


async def choose_kind(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW or ctx.state.step != "kind" or arg not in set(BuyerKind):
        raise StaleAction("no kind asked")
    ctx.state.goto("regions", kind=arg, regions=[])
    _ask_regions(ctx, edit=False)


def _ask_regions(ctx: Context, *, edit: bool) -> None:
    chosen = set(ctx.state.data.get("regions", []))
    rows = [
        [Button(("✓ " if name in chosen else "") + name, f"rg:{index}")] for index, name in enumerate(REGIONS)
    ]
    rows.append([ctx.button("start.regions_all", "rg:all"), ctx.button("start.regions_done", "rg:done")])
    ctx.say("start.ask_regions", buttons=rows, edit=edit)


async def toggle_region(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW or ctx.state.step != "regions":
        raise StaleAction("no regions asked")
    chosen: list[str] = list(ctx.state.data.get("regions", []))
    if arg == "done":
        await _ask_phone(ctx)
        return
    if arg == "all":
        chosen = [] if len(chosen) == len(REGIONS) else list(REGIONS)
    else:
        name = REGIONS[parse_index(arg, len(REGIONS))]
        chosen = [r for r in chosen if r != name] if name in chosen else [*chosen, name]
    ctx.state.goto("regions", regions=chosen)
    _ask_regions(ctx, edit=True)


async def _ask_phone(ctx: Context) -> None:
    ctx.state.goto("phone")
    ctx.send(
        Reply(
            ctx.t("start.ask_phone"),
            buttons=((ctx.button("start.phone_skip", "ph:skip"),),),
            request_contact=ctx.t("start.phone_share"),
        )
    )


async def shared_contact(ctx: Context, phone: str) -> None:
    """The user shared their own number through the platform's button: consent to store it."""
    ctx.user.phone = phone[:40]
    if ctx.state.flow == FLOW and ctx.state.step == "phone":
        await _finish_buyer(ctx)
    else:
        ctx.say("start.phone_saved")


async def _typed_phone(ctx: Context, text: str) -> None:
    if not _PHONE.match(text.strip()):
        ctx.say("start.phone_invalid")
        return
    await shared_contact(ctx, text.strip())


async def skip_phone(ctx: Context, _arg: str) -> None:
    if ctx.state.flow != FLOW or ctx.state.step != "phone":
        raise StaleAction("no phone asked")
    await _finish_buyer(ctx)


async def _finish_buyer(ctx: Context) -> None:
    data = ctx.state.data
    assert ctx.user.id is not None
    profile = await ctx.session.get(BuyerProfile, ctx.user.id) or BuyerProfile(user_id=ctx.user.id)
    profile.company = data.get("company", "")
    profile.kind = data.get("kind", BuyerKind.DISTRIBUTOR.value)
    profile.regions = list(data.get("regions", []))
    ctx.session.add(profile)
    if not ctx.user.is_admin:
        ctx.user.role = Role.BUYER.value
    ctx.state.leave()
    ctx.say("start.buyer_done", company=profile.company)
    await show_help(ctx)


# -- producer ---------------------------------------------------------------------------------------------------


async def _find_producer(ctx: Context, text: str) -> None:
    producers = await find_producers(ctx.session, text)
    if not producers:
        ctx.say("claim.not_found")
        return
    rows = [[Button(f"{p.name} — {p.province}", f"pc:{p.id}")] for p in producers]
    ctx.state.goto("pick")
    ctx.say("claim.pick", buttons=rows)


async def pick_producer(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW or ctx.state.step not in {"pick", "code"}:
        raise StaleAction("no producer asked")
    producer = await ctx.session.get(Producer, parse_id(arg))
    if producer is None:
        raise StaleAction("no such producer")
    ctx.state.goto("code", producer_id=producer.id, attempts=0)
    ctx.say("claim.ask_code", producer=producer.name)


async def _code(ctx: Context, text: str) -> None:
    producer_id = int(ctx.state.data["producer_id"])
    try:
        producer = await redeem_code(ctx.session, ctx.user, producer_id, text.strip(), ctx.now)
    except InvalidCode:
        attempts = int(ctx.state.data.get("attempts", 0)) + 1
        if attempts >= MAX_ATTEMPTS:
            ctx.state.leave()
            ctx.say("claim.too_many")
        else:
            ctx.state.goto("code", attempts=attempts)
            ctx.say("claim.invalid", left=MAX_ATTEMPTS - attempts)
        return
    ctx.state.leave()
    ctx.say("claim.done", producer=producer.name)
    await show_help(ctx)

