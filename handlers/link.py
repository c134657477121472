"""/link: one person, one account on every channel. `/link` gives a code; `/link CODE` on the other channel,
confirmed, joins the two accounts (requests, memos, roles, notifications shared)."""

from __future__ import annotations

from handlers.context import Context
from models.errors import LinkRefused, StaleAction
from models.linking import LINK_VALID, complete_link, find_link, issue_link_code

FLOW = "link"


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
    ctx.state.enter(FLOW, "confirm", code_id=link.code.id)
    yes, no = ctx.button("link.yes", "lk:yes"), ctx.button("flow.cancel", "cancel")
    ctx.say("link.confirm", name=link.other.display_name or "?", channels=_channels(ctx, link.channels),
            buttons=[[yes, no]])


async def confirm(ctx: Context, arg: str) -> None:
    if ctx.state.flow != FLOW or arg != "yes":
        raise StaleAction("no link to confirm")
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
