"""Help, language, cancel: what every user can do at any time."""

from __future__ import annotations

from handlers.context import Context
from handlers.i18n import LANGUAGES
from handlers.messages import Button
from models.errors import StaleAction
from models.text import normalize

CANCEL_WORDS = frozenset({"huy", "cancel", "thoat", "huy bo", "dung", "stop"})


def is_cancel(text: str) -> bool:
    word = text.strip().split("@")[0].lower()
    return word == "/cancel" or normalize(text) in CANCEL_WORDS


def language_buttons(ctx: Context) -> list[list[Button]]:
    return [[ctx.button("lang.vi", "lang:vi"), ctx.button("lang.en", "lang:en")]]


async def show_help(ctx: Context, _arg: str = "") -> None:
    user = ctx.user
    if user.is_admin:
        key = "help.admin"
    elif user.is_producer:
        key = "help.producer"
    elif user.is_buyer:
        key = "help.buyer"
    else:
        key = "help.guest"
    ctx.say(key)
    if user.is_admin:
        ctx.say("admin.help")  # the office's tools: events, statistics, exports, catalogue, admins


async def ask_language(ctx: Context, _arg: str = "") -> None:
    ctx.say("lang.choose", buttons=language_buttons(ctx))


async def set_language(ctx: Context, arg: str) -> None:
    if arg not in LANGUAGES:
        raise StaleAction(f"unknown language {arg!r}")
    ctx.user.language = arg
    if ctx.state.flow == "onboard" and ctx.state.step == "lang":
        from handlers.start import ask_role  # the one flow that continues after a language choice

        await ask_role(ctx)
        return
    ctx.say("lang.set")


async def cancel(ctx: Context, _arg: str = "") -> None:
    was_in_flow = ctx.state.flow is not None
    ctx.state.leave()
    ctx.say("cancel.done" if was_in_flow else "cancel.nothing")
