"""Our aiohttp server: channel webhooks register routes on it; it serves /healthz and signed downloads (memos, and
the exports and charts made for channels that cannot send files)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from bot.links import LinkSigner
from handlers.context import Services
from handlers.memos import load_document
from handlers.messages import DocumentRef
from models.errors import StaleAction
from models.stored_files import load

log = logging.getLogger(__name__)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_app(services: Services, signer: LinkSigner | None = None) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_get("/healthz", _healthz)
    if signer is not None:
        app.router.add_get(r"/memos/{id:\d+}.docx", _memo_download(services, signer))
        app.router.add_get(r"/files/{id:\d+}.{extension:[A-Za-z0-9]+}", _file_download(services, signer))
    return app


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _memo_download(services: Services, signer: LinkSigner):  # type: ignore[no-untyped-def]
    async def download(request: web.Request) -> web.StreamResponse:
        memo_id = int(request.match_info["id"])
        expires, signature = request.query.get("exp", ""), request.query.get("sig", "")
        if not signer.valid("memo", memo_id, expires, signature, services.clock.now()):
            return web.Response(status=403, text="This link is invalid or has expired.\n")
        try:
            name, data = await load_document(services.db, DocumentRef("memo", memo_id), services.memo_place)
        except StaleAction:
            return web.Response(status=404, text="No such document.\n")
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return web.Response(body=data, content_type=DOCX, headers=headers)

    return download


def _file_download(services: Services, signer: LinkSigner):  # type: ignore[no-untyped-def]
    async def download(request: web.Request) -> web.StreamResponse:
        file_id = int(request.match_info["id"])
        expires, signature = request.query.get("exp", ""), request.query.get("sig", "")
        now = services.clock.now()
        if not signer.valid("file", file_id, expires, signature, now):
            return web.Response(status=403, text="This link is invalid or has expired.\n")
        async with services.db.session() as session:
            stored = await load(session, file_id, now)
        if stored is None or int(stored.expires_at.timestamp()) != int(expires):  # the link names this very file
            return web.Response(status=404, text="No such file: it may have been removed after its link expired.\n")
        disposition = "inline" if stored.mime.startswith("image/") else "attachment"
        headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.filename)}",
                   "Cache-Control": "private, no-store"}
        return web.Response(body=stored.data, content_type=stored.mime, headers=headers)

    return download


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
