"""Help, language, cancel: what every user can do at any time."""

from __future__ import annotations

from handlers import flow, search
from handlers.actions import SetLanguage
from handlers.context import Context
from handlers.i18n import LANGUAGES
from models.errors import StaleAction
from models.text import normalize

CANCEL_WORDS = frozenset({"huy", "cancel", "thoat", "huy bo", "dung", "stop"})


def is_cancel(text: str) -> bool:
    word = text.strip().split("@")[0].lower()
    return word == "/cancel" or normalize(text) in CANCEL_WORDS


async def show_help(ctx: Context, _arg: object = None) -> None:
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
    ctx.say("lang.choose", buttons=[[ctx.button(f"lang.{code}", SetLanguage(code)) for code in LANGUAGES]])


async def set_language(ctx: Context, action: SetLanguage) -> None:
    if action.code not in LANGUAGES:
        raise StaleAction(f"unknown language {action.code!r}")
    ctx.user.language = action.code
    ctx.say("lang.set")
    asked = flow.current(ctx)
    if asked is not None:  # the question on screen, in the new language
        await flow.ask(ctx, *asked)
    elif action.results and "search" in ctx.state.data:  # the results it was pressed under, in the new language
        await search.show_again(ctx)


async def cancel(ctx: Context, _arg: object = None) -> None:
    was_in_flow = ctx.state.flow is not None
    ctx.state.leave()
    ctx.say("cancel.done" if was_in_flow else "cancel.nothing")
