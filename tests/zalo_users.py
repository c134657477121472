"""Our Zalo channels running against the loopback fakes, and people typing into the Zalo apps."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.config import ZaloBotSettings, ZaloOASettings
from bot.links import LinkSigner
from bot.retry import RetryPolicy
from bot.stopping import finish
from bot.web import make_app, start_site
from bot.zalo_base import ZaloChannel
from bot.zalo_bot import ZaloBotChannel
from bot.zalo_oa import ZaloOAChannel
from handlers.app import Conversation
from handlers.context import Services
from tests.fake_zalo import (
    APP_ID,
    APP_SECRET,
    BOT_TOKEN,
    FIRST_REFRESH,
    OA_ID,
    WEBHOOK_KEY,
    WEBHOOK_SECRET,
    FakeZaloBot,
    FakeZaloOA,
    wait_until,
)

PUBLIC_URL = "https://ocop.example.vn"
FAST = RetryPolicy(first=0.01, maximum=0.05)
OPTION = re.compile(r"^(\d+)\. (.+)$")


@dataclass
class Running:
    channel: Any  # ZaloBotChannel | ZaloOAChannel
    base: str  # our web server
    hook: str  # the webhook route
    task: asyncio.Task[None]  # the channel's run(): done once the channel stopped

    async def get(self, link: str) -> tuple[int, bytes]:
        """Download a link we sent (it names the public URL; our server listens on 127.0.0.1)."""
        async with aiohttp.ClientSession() as session, session.get(link.replace(PUBLIC_URL, self.base)) as response:
            return response.status, await response.read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def running(channel: ZaloChannel, services: Services, port: int, hook: str) -> AsyncIterator[Running]:
    """Our web server with the channel's routes, and the channel's run task (pump every 50 ms)."""
    app = make_app(services, channel.signer)
    await channel.start(app)
    runner, port = await start_site(app, "127.0.0.1", port)
    task = asyncio.create_task(channel.run(pump_interval=0.05))
    connected = asyncio.ensure_future(channel.connected.wait())
    await asyncio.wait([connected, task], timeout=10, return_when=asyncio.FIRST_COMPLETED)  # or refused at once
    connected.cancel()
    try:
        yield Running(channel, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}{hook}", task)
    finally:
        channel.stopping.set()
        await finish([task])
        await runner.cleanup()


def forgeries(link: str) -> list[str]:
    """What someone might try with a signed link (``…/kinds/N.ext?exp=…&sig=…``): no signature, a zeroed one, a
    longer life, another item with this signature, an unreadable expiry. Every one must be refused."""
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    exp, sig = query["exp"][0], query["sig"][0]
    folder, _, name = parts.path.rpartition("/")
    item, _, extension = name.partition(".")
    site = f"{parts.scheme}://{parts.netloc}"
    here, other = f"{site}{parts.path}", f"{site}{folder}/{int(item) + 1}.{extension}"
    return [
        here, f"{here}?exp={exp}", f"{here}?exp={exp}&sig={'0' * len(sig)}", f"{here}?exp={int(exp) + 3600}&sig={sig}",
        f"{other}?exp={exp}&sig={sig}", f"{here}?exp=soon&sig={sig}",
    ]


def signer() -> LinkSigner:
    return LinkSigner("link-secret-for-tests", PUBLIC_URL, timedelta(hours=72))


@asynccontextmanager
async def zalo_bot(services: Services, fake: FakeZaloBot, mode: str = "polling") -> AsyncIterator[Running]:
    port = free_port()
    settings = ZaloBotSettings(
        token=BOT_TOKEN, mode=mode, base_url=fake.url, webhook_path="hook", webhook_secret=WEBHOOK_SECRET,
        webhook_url=f"http://127.0.0.1:{port}/zalo/bot/hook" if mode == "webhook" else "", poll_timeout=1,
    )
    channel = ZaloBotChannel(Conversation(services), settings, signer(), FAST)
    async with running(channel, services, port, "/zalo/bot/hook") as run:
        yield run


def oa_settings(fake: FakeZaloOA, **overrides: Any) -> ZaloOASettings:
    values: dict[str, Any] = {
        "app_id": APP_ID, "oa_id": OA_ID, "app_secret": APP_SECRET, "webhook_key": WEBHOOK_KEY,
        "refresh_token": FIRST_REFRESH, "base_url": fake.url, "oauth_url": fake.url, "webhook_path": "events",
        "request_info_image_url": "https://ocop.example.vn/static/phone.png",
    }
    return ZaloOASettings(**{**values, **overrides})


@asynccontextmanager
async def zalo_oa(services: Services, fake: FakeZaloOA, **overrides: Any) -> AsyncIterator[Running]:
    channel = ZaloOAChannel(Conversation(services), oa_settings(fake, **overrides), signer(), FAST)
    async with running(channel, services, free_port(), "/zalo/oa/events") as run:
        assert await fake.register_webhook(run.hook)  # the OA console's unsigned check: 200, nothing processed
        yield run


class ZaloPerson:
    """Someone typing into a Zalo app; ``says`` returns once our channel has handled it."""

    def __init__(self, run: Running, user_id: str) -> None:
        self.run, self.user_id = run, user_id

    def texts(self) -> list[str]:
        raise NotImplementedError

    async def deliver(self, event: dict[str, Any]) -> int:
        raise NotImplementedError

    async def sends(self, event: dict[str, Any]) -> list[str]:
        """Deliver an event; what the bot sent back once it was handled and its replies sent."""
        before, done = len(self.texts()), self.run.channel.inbox.processed
        status = await self.deliver(event)
        assert status == 200, status
        await wait_until(lambda: self.run.channel.inbox.processed > done, what=f"{self.user_id}'s update handled")
        await self.run.channel.idle()
        return self.texts()[before:]

    @property
    def last(self) -> str:
        texts = self.texts()
        return texts[-1] if texts else ""

    def saw(self, fragment: str) -> bool:
        return any(fragment in text for text in self.texts())

    async def waits_for(self, fragment: str, timeout: float = 10.0) -> str:
        """A message containing ``fragment`` (a notification delivered by the pump)."""
        await wait_until(lambda: self.saw(fragment), timeout, what=f"{fragment!r} sent to {self.user_id}")
        return next(text for text in reversed(self.texts()) if fragment in text)

    async def chooses(self, label: str) -> list[str]:
        """Type the number of the newest numbered option whose label contains ``label``."""
        for text in reversed(self.texts()):
            for line in reversed(text.splitlines()):
                match = OPTION.match(line)
                if match and label in match.group(2):
                    return await self.says(match.group(1))
        raise AssertionError(f"{self.user_id} sees no option {label!r}; last: {self.last}")

    async def says(self, text: str) -> list[str]:
        raise NotImplementedError

    def link(self) -> str:
        found = re.search(r"https://\S+/memos/\d+\.docx\?\S+", "\n".join(self.texts()))
        assert found, self.texts()
        return found.group(0)


class BotUser(ZaloPerson):
    def __init__(self, run: Running, fake: FakeZaloBot, user_id: str, name: str = "") -> None:
        super().__init__(run, user_id)
        self.fake, self.name = fake, name

    def texts(self) -> list[str]:
        return self.fake.texts(self.user_id)

    async def deliver(self, event: dict[str, Any]) -> int:
        return await self.fake.push(event)

    async def says(self, text: str) -> list[str]:
        return await self.sends(self.fake.update(self.user_id, text, name=self.name))

    async def presses(self, label: str) -> list[str]:
        return await self.chooses(label)


class OAUser(ZaloPerson):
    def __init__(self, run: Running, fake: FakeZaloOA, user_id: str) -> None:
        super().__init__(run, user_id)
        self.fake = fake

    def texts(self) -> list[str]:
        return self.fake.texts(self.user_id)

    async def deliver(self, event: dict[str, Any]) -> int:
        return await self.fake.push(self.run.hook, event)

    async def says(self, text: str) -> list[str]:
        return await self.sends(self.fake.text(self.user_id, text))

    async def presses(self, label: str) -> list[str]:
        """Press the newest query button titled ``label`` (its payload comes back as text), else type a number."""
        for call in reversed(self.fake.sent(self.user_id)):
            for button in call.buttons:
                if label in button["title"]:
                    assert button["type"] == "oa.query.hide" and call.template == "button"
                    return await self.says(button["payload"])
        return await self.chooses(label)

    async def shares_phone(self, phone: str) -> list[str]:
        info = {"name": self.user_id, "phone": phone, "address": "", "city": "", "district": ""}
        return await self.sends(self.fake.event("user_submit_info", self.user_id, info=info))
