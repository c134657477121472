"""/dashboard: an admin gets a one-time link that opens the office's web dashboard (bot/dashboard)."""

from __future__ import annotations

from urllib.parse import quote

from handlers.admin import require_admin
from handlers.context import Context
from models.dashboard import LINK_VALID, issue_login

LOGIN_PATH = "/dashboard/login"


def login_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{LOGIN_PATH}?token={quote(token)}"


async def command(ctx: Context, _arg: str = "") -> None:
    require_admin(ctx)
    if not ctx.services.web_url:
        ctx.say("dashboard.no_web")
        return
    token = issue_login(ctx.session, ctx.user, ctx.now)
    ctx.say("dashboard.link", url=login_url(ctx.services.web_url, token), minutes=int(LINK_VALID.total_seconds() // 60))
