"""/link: one person, one account on every channel. `/link` gives a code; `/link CODE` on the other channel,
confirmed, joins the two accounts (requests, memos, roles, notifications shared). Wrong codes are limited per user
(models.linking): the user is told how many tries are left, then when to try again."""

from __future__ import annotations

import math

from handlers.context import Context
from handlers.flow import Flow, Kind, Option, Question, Step, begin, register
from models.claims import WrongCode
from models.errors import LinkRefused
from models.linking import LINK_VALID, TooManyGuesses, complete_link, find_link, issue_link_code


async def command(ctx: Context, arg: str) -> None:
    code = arg.strip()
    if not code:
        code = await issue_link_code(ctx.session, ctx.user, ctx.now, ctx.services.make_code)
        ctx.say("link.code", code=code, minutes=int(LINK_VALID.total_seconds() // 60))
        return
    try:
        link = await find_link(ctx.session, ctx.user, code, ctx.now)
    except LinkRefused as refused:
        ctx.say(f"link.{refused.reason}")
        return
    except WrongCode as wrong:
        ctx.say("link.invalid", left=wrong.left)
        return
    except TooManyGuesses as limit:
        ctx.say("link.too_many", minutes=max(1, math.ceil((limit.retry_at - ctx.now).total_seconds() / 60)))
        return
    await begin(ctx, LINK, code_id=link.code.id, name=link.other.display_name or "?", channels=link.channels)


async def _ask_confirm(ctx: Context) -> Question:
    data = ctx.state.data
    text = ctx.t("link.confirm", name=data["name"], channels=_channels(ctx, data["channels"]))
    return Question(text, (Option("yes", ctx.t("link.yes")),), cancel=True)


async def _join(ctx: Context) -> None:
    code_id = int(ctx.state.data["code_id"])
    ctx.state.leave()
    try:
        link = await complete_link(ctx.session, ctx.user, code_id, ctx.now)
    except LinkRefused as refused:
        ctx.say(f"link.{refused.reason}")
        return
    ctx.say("link.done", channels=_channels(ctx, link.channels))


def _channels(ctx: Context, channels: list[str]) -> str:
    return ", ".join(ctx.t(f"channel.{channel}") for channel in channels)


LINK = register(Flow("link", (Step("confirm", Kind.CHOICE, _ask_confirm),), done=_join))
