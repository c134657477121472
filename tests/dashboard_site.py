"""The dashboard on a loopback port with a programme behind it: a confirmed memo between Lan (buyer) and Hảo
(producer), and the office, who asks for login links in the console chat."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from sqlmodel import select

from bot.web import make_app, start_site
from handlers.app import Conversation
from handlers.context import Services
from models.broadcasts import Audience, AudienceKind, create_broadcast
from models.db import Database
from models.people import User
from tests.chat import ChatUser, claim_producer, load_catalogue, make_services, register_buyer, request_contact

LINK = re.compile(r"(http://\S+/dashboard/login\?token=\S+)")


class Site:
    def __init__(self, base: str, services: Services, office: ChatUser, buyer: ChatUser, producer: ChatUser) -> None:
        self.base, self.services = base, services
        self.office, self.buyer, self.producer = office, buyer, producer

    async def login_link(self) -> str:
        """What the office gets for /dashboard in the chat."""
        await self.office.says("/dashboard")
        found = LINK.search(self.office.last)
        assert found, self.office.last
        return found.group(1)

    def client(self) -> aiohttp.ClientSession:
        """A browser-like client: keeps cookies (for 127.0.0.1 too), does not follow redirects unless told."""
        return aiohttp.ClientSession(self.base, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def logged_in(self, client: aiohttp.ClientSession) -> str:
        """Log ``client`` in through a fresh link; the CSRF token of its session."""
        link = await self.login_link()
        async with client.get(link) as page:
            token = re.search(r'name="token" value="([^"]+)"', await page.text())
        assert token
        async with client.post("/dashboard/login", data={"token": token.group(1)}) as home:
            assert home.status == 200, await home.text()
            return csrf_of(await home.text())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def confirmed_memo(db: Database) -> tuple[Services, ChatUser, ChatUser, ChatUser]:
    """Memo 1 confirmed by both sides (the office, the buyer and the producer, as chat users)."""
    await load_catalogue(db)
    services = make_services(db)
    conversation = Conversation(services)
    office, buyer, producer = (ChatUser(conversation, name) for name in ("office", "lan", "hao"))
    await office.says("/help")
    await register_buyer(buyer)
    await claim_producer(office, producer, "HTX Chè Hảo Đạt")
    await request_contact(buyer, "che tan cuong", "Chè búp")
    await producer.receive()
    await producer.presses("Chấp nhận")
    await buyer.receive()
    await buyer.presses("Xác nhận")
    await producer.receive()
    await producer.presses("Xác nhận")
    assert producer.saw("Cả hai bên đã xác nhận")
    return services, office, buyer, producer


@asynccontextmanager
async def serving(db: Database) -> AsyncIterator[Site]:
    services, office, buyer, producer = await confirmed_memo(db)
    runner, port = await start_site(make_app(services), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    services.web_url = base
    try:
        yield Site(base, services, office, buyer, producer)
    finally:
        await runner.cleanup()


async def start_broadcast(site: Site, text: str = "Hội chợ OCOP mở cửa lúc 8 giờ") -> int:
    """The office sends a broadcast to every user on the console (the office, the buyer and the producer): three
    deliveries pending, as if the sender had not reached them yet. Its id."""
    async with site.services.db.transaction() as session:
        office = (await session.exec(select(User).where(User.display_name == "Office"))).one()
        broadcast = await create_broadcast(session, office, channel="console", chat_id="office", text=text, photo="",
                                           audience=Audience(AudienceKind.ALL), channels=("console",),
                                           now=site.services.clock.now())
        return broadcast.id or 0
