"""Memos reach Zalo users as signed, expiring links to our web server; the route refuses anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.links import LinkSigner
from bot.web import make_app, start_site
from bot.zalo_base import with_link
from handlers.context import Services
from models.db import Database
from tests.chat import with_draft_memo
from tests.zalo_users import forgeries

PUBLIC = "https://ocop.example.vn"


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    return await with_draft_memo(sqlite_db)


@pytest.fixture
async def server(services: Services) -> AsyncIterator[tuple[str, LinkSigner]]:
    signer = LinkSigner("link-secret-for-tests", PUBLIC, timedelta(hours=72))
    runner, port = await start_site(make_app(services, signer), "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}", signer
    await runner.cleanup()


async def fetch(base: str, link: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(link.replace(PUBLIC, base)) as response:
        return response.status, await response.read(), response.headers.get("Content-Disposition", "")


def link_in(text: str) -> str:
    return text.split("📄 ")[1]


async def test_a_signed_link_downloads_the_memo(server: tuple[str, LinkSigner], services: Services) -> None:
    base, signer = server
    [text] = with_link("Biên bản #1", "📄 " + signer.url("memo", 1, services.clock.now()))
    assert text.startswith("Biên bản #1\n\n📄 https://ocop.example.vn/memos/1.docx?exp=")
    status, body, disposition = await fetch(base, link_in(text))
    assert status == 200 and body[:2] == b"PK" and 'filename="bien-ban-ghi-nho-1.docx"' in disposition


async def test_tampered_expired_or_borrowed_links_are_refused(
    server: tuple[str, LinkSigner], services: Services
) -> None:
    base, signer = server
    now = services.clock.now()
    refused = [
        *forgeries(signer.url("memo", 1, now)),
        signer.url("memo", 1, now - timedelta(hours=73)),  # expired an hour ago
        LinkSigner("another-secret", PUBLIC, timedelta(hours=72)).url("memo", 1, now),
    ]
    for link in refused:
        status, body, _ = await fetch(base, link)
        assert status == 403 and b"PK" not in body, link
    status, _, _ = await fetch(base, signer.url("memo", 99, now))  # properly signed, but no such memo
    assert status == 404


def test_a_long_message_and_its_link_go_separately(services: Services) -> None:
    signer = LinkSigner("link-secret-for-tests", PUBLIC, timedelta(hours=72))
    texts = with_link("x" * 1990, "📄 " + signer.url("memo", 7, services.clock.now()))
    assert len(texts) == 2 and texts[0] == "x" * 1990 and texts[1].startswith("📄 https://ocop.example.vn/memos/7")
