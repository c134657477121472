"""/dashboard routes: login through a one-time link, sessions in a cookie, CSRF on every form, pages rendered with
Jinja2 in the reader's language (Vietnamese unless they switched).

Every page but the login and the static files answers 401 without a live session; every POST checks the session's
CSRF token first; refusals are pages in the reader's language and change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Services
from handlers.dashboard import LOGIN_PATH
from handlers.i18n import LANGUAGES, Translator, translator
from models.clock import TIMEZONE
from models.dashboard import DashboardSession, LoginRefused, csrf_ok, current, end, redeem_login
from models.people import User

HERE = Path(__file__).parent
COOKIE = "ocop_dashboard"
LANG_COOKIE = "ocop_lang"
JINJA = web.AppKey("dashboard_jinja", jinja2.Environment)
SERVICES = web.AppKey("dashboard_services", Services)
SECURE = web.AppKey("dashboard_secure", bool)


@dataclass
class Visit:
    """One request of a logged-in admin, inside its transaction."""

    request: web.Request
    session: AsyncSession
    dashboard: DashboardSession
    user: User
    services: Services
    form: dict[str, str]

    @property
    def t(self) -> Translator:
        return translator(language(self.request, self.user))


Page = Callable[[Visit], Awaitable[web.StreamResponse]]


def language(request: web.Request, user: User | None = None) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return user.language if user is not None and user.language in LANGUAGES else "vi"


def local(moment: datetime | None) -> str:
    """A moment as Vietnam's clocks show it."""
    return f"{moment.astimezone(TIMEZONE):%d/%m/%Y %H:%M}" if moment else "—"


def day(moment: datetime | None) -> str:
    return f"{moment.astimezone(TIMEZONE):%d/%m/%Y}" if moment else "—"


def action_label(t: Translator, name: str) -> str:
    """An audit log action in words ("memo.sign" → "marked signed"); the name itself when we have none."""
    label = t(f"dashboard.action.{name}")
    return name if label.startswith("dashboard.") else label


def render(request: web.Request, template: str, *, status: int = 200, user: User | None = None,
           visit: Visit | None = None, **context: Any) -> web.Response:
    lang = language(request, visit.user if visit else user)
    t = translator(lang)
    context.update(t=t, lang=lang, visit=visit, path=request.path_qs, here=request.path, local=local, day=day,
                   action=lambda name: action_label(t, name), csrf=visit.dashboard.csrf if visit else "",
                   user=visit.user if visit else None)
    response = aiohttp_jinja2.render_template(template, request, context, status=status, app_key=JINJA)
    response.headers.update({"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                             "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                        "img-src 'self' data:; frame-ancestors 'none'"})
    return response


def redirect(location: str) -> web.Response:
    """303 See Other, returned (not raised: the request's transaction commits)."""
    return web.Response(status=303, headers={"Location": location})


def refusal(request: web.Request, title: str, message: str, status: int) -> web.Response:
    """A page that says what went wrong and how to get in again; nothing was changed."""
    return render(request, "refused.html", status=status, title=title, message=message)


def page(handler: Page, *, post: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A route for logged-in admins only, run in one transaction; a POST must carry the session's CSRF token."""

    async def route(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        form = {key: str(value) for key, value in (await request.post()).items()} if post else None
        async with services.db.transaction() as session:
            found = await current(session, request.cookies.get(COOKIE, ""), services.clock.now())
            if found is None:
                return refusal(request, "dashboard.session_title", "dashboard.session_expired", 401)
            dashboard, user = found
            if form is not None and not csrf_ok(dashboard, form.get("csrf", "")):
                return refusal(request, "dashboard.stale_title", "dashboard.stale_form", 403)
            visit = Visit(request, session, dashboard, user, services, form or {})
            return await handler(visit)

    return route


async def login_page(request: web.Request) -> web.Response:
    """GET shows a button; only the POST uses the link (chat apps fetch links to preview them)."""
    token = request.query.get("token", "")
    if not token:
        return refusal(request, "dashboard.link_title", "dashboard.link_unknown", 403)
    return render(request, "login.html", token=token)


async def login(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    form = await request.post()
    try:
        async with services.db.transaction() as session:
            opened = await redeem_login(session, str(form.get("token", "")), services.clock.now())
    except LoginRefused as refused:
        return refusal(request, "dashboard.link_title", f"dashboard.link_{refused.reason.value}", 403)
    response = redirect("/dashboard")
    response.set_cookie(COOKIE, opened.key, path="/dashboard", httponly=True, samesite="Strict",
                        secure=request.app[SECURE])  # a browser-session cookie; the server ends it after IDLE
    return response


async def logout(visit: Visit) -> web.Response:
    end(visit.session, visit.dashboard, visit.user, visit.services.clock.now())
    response = render(visit.request, "refused.html", user=visit.user, title="dashboard.logged_out_title",
                      message="dashboard.logged_out")
    response.del_cookie(COOKIE, path="/dashboard")
    return response


async def switch_language(visit: Visit) -> web.StreamResponse:
    chosen, back = visit.form.get("lang", ""), visit.form.get("next", "")
    if not back.startswith("/dashboard") or "//" in back or "\\" in back:
        back = "/dashboard"
    response = redirect(quote(back, safe="/?=&%"))
    if chosen in LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, path="/dashboard", samesite="Strict", secure=visit.request.app[SECURE],
                            max_age=365 * 86400)
    return response


def setup(app: web.Application, services: Services) -> None:
    from bot.dashboard import broadcasts, catalogue, events, imports, pages

    app[SERVICES] = services
    app[SECURE] = services.web_url.startswith("https://")
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, app_key=JINJA,
                         undefined=jinja2.StrictUndefined)
    app.router.add_static("/dashboard/static", HERE / "static")
    app.router.add_get(LOGIN_PATH, login_page)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/dashboard/logout", page(logout, post=True))
    app.router.add_post("/dashboard/language", page(switch_language, post=True))
    pages.add_routes(app)
    broadcasts.add_routes(app)
    catalogue.add_routes(app)
    events.add_routes(app)
    imports.add_routes(app)
