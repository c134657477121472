"""Our aiohttp server: channel webhooks register routes on it; it serves /healthz, /readyz and /metrics
(bot/monitoring.py), signed downloads (memos, and the exports and charts made for
channels that cannot send files) and the office's dashboard (bot/dashboard).

Route patterns take ASCII digits only and every number in a path or a query string is read with models.parse, so
a tampered, cut or made-up link is answered 403 or 404 with a short text, never 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot import dashboard, monitoring
from bot.links import LinkSigner
from handlers.context import Services
from handlers.memos import load_document
from handlers.messages import DocumentRef
from models import parse
from models.errors import StaleAction
from models.stored_files import load

log = logging.getLogger(__name__)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEALTH_TIMEOUT = 2.0  # seconds the database has to answer /readyz and /metrics
INVALID_LINK = "This link is invalid or has expired.\n"
NO_DOCUMENT = "No such document.\n"
NO_FILE = "No such file: it may have been removed after its link expired.\n"


# What channels add to /healthz: their name → a function giving a small JSON-able report (no secrets)
HEALTH_REPORTS = web.AppKey("health_reports", dict[str, Callable[[], dict[str, Any]]])


def make_app(services: Services, signer: LinkSigner | None = None, *, health_timeout: float = HEALTH_TIMEOUT,
             metrics_token: str | None = None) -> web.Application:
    """The web app: /healthz, /readyz and /metrics (bot/monitoring.py: /metrics only with ``metrics_token``), the
    dashboard, and the signed downloads when there is a ``signer``."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[HEALTH_REPORTS] = {}
    monitoring.setup(app, services, token=metrics_token, timeout=health_timeout, reports=_reports)
    dashboard.setup(app, services)
    if signer is not None:
        app.router.add_get("/memos/{id:[0-9]+}.docx", _memo_download(services, signer))
        app.router.add_get("/files/{id:[0-9]+}.{extension:[A-Za-z0-9]+}", _file_download(services, signer))
        app.router.add_get("/photos/{id:[0-9]+}.{extension:[A-Za-z0-9]+}", _photo(services, signer))
    return app


def _reports(app: web.Application) -> dict[str, Any]:
    """What /healthz says: each channel's state, and what the channels report of themselves."""
    return {"channels": monitoring.channel_states(app),
            **{name: report() for name, report in app[HEALTH_REPORTS].items()}}


def _memo_download(services: Services, signer: LinkSigner):  # type: ignore[no-untyped-def]
    async def download(request: web.Request) -> web.StreamResponse:
        memo_id = parse.canonical(request.match_info["id"])
        if memo_id is None:
            return web.Response(status=404, text=NO_DOCUMENT)
        expires, signature = request.query.get("exp", ""), request.query.get("sig", "")
        if not signer.valid("memo", memo_id, expires, signature, services.clock.now()):
            return web.Response(status=403, text=INVALID_LINK)
        try:
            name, data = await load_document(services.db, DocumentRef("memo", memo_id), services.memo_place)
        except StaleAction:
            return web.Response(status=404, text=NO_DOCUMENT)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return web.Response(body=data, content_type=DOCX, headers=headers)

    return download


def _file_download(services: Services, signer: LinkSigner):  # type: ignore[no-untyped-def]
    async def download(request: web.Request) -> web.StreamResponse:
        file_id = parse.canonical(request.match_info["id"])
        if file_id is None:
            return web.Response(status=404, text=NO_FILE)
        expires, signature = request.query.get("exp", ""), request.query.get("sig", "")
        now = services.clock.now()
        if not signer.valid("file", file_id, expires, signature, now):
            return web.Response(status=403, text=INVALID_LINK)
        async with services.db.session() as session:
            stored = await load(session, file_id, now)
        if (stored is None or stored.extension != request.match_info["extension"]  # the link names this very file
                or int(stored.expires_at.timestamp()) != signer.expiry(expires)):
            return web.Response(status=404, text=NO_FILE)
        disposition = "inline" if stored.mime.startswith("image/") else "attachment"
        headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.filename)}",
                   "Cache-Control": "private, no-store"}
        return web.Response(body=stored.data, content_type=stored.mime, headers=headers)

    return download


def _photo(services: Services, signer: LinkSigner):  # type: ignore[no-untyped-def]
    async def photo(request: web.Request) -> web.StreamResponse:
        file_id = parse.canonical(request.match_info["id"])
        if file_id is None or not signer.valid_photo(file_id, request.query.get("sig", "")):
            return web.Response(status=403, text=INVALID_LINK)
        async with services.db.session() as session:
            stored = await load(session, file_id, services.clock.now())
        named = stored is not None and stored.extension == request.match_info["extension"]
        if stored is None or not named or not stored.mime.startswith("image/"):
            return web.Response(status=404, text=NO_FILE)
        headers = {"Cache-Control": "public, max-age=86400",
                   "Content-Disposition": f"inline; filename*=UTF-8''{quote(stored.filename)}"}
        return web.Response(body=stored.data, content_type=stored.mime, headers=headers)

    return photo


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app``; returns the runner and the bound port (``port`` 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port  # type: ignore[union-attr]
    log.info("web server on http://%s:%s", host, bound)
    return runner, bound
