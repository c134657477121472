"""`ocop-bot serve` starting up: a Bot API that cannot be reached yet is tried again quietly until it can; a refused
token stops its channel with one log line naming the key to fix (never the token); with every channel stopped the
process exits with status 1."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.broadcast_transports import TelegramTransport
from bot.channel import ChannelRuntime, ChannelSpec, Shared
from bot.channels import registry
from bot.cli import serve
from bot.config import Settings, TelegramSettings
from bot.retry import ChannelUnavailable, RetryPolicy
from bot.stopping import finish
from bot.telegram import TelegramChannel
from handlers.app import Conversation
from models.db import Database
from tests.chat import make_services
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import FakeZaloBot
from tests.loopback import BIN, ServeProcess, serving

REFUSED_TOKEN = "654321:REVOKED-token-never-printed"
QUICK = RetryPolicy(first=0.01, maximum=0.05)


class LateFakeTelegram(FakeTelegram):
    """The fake Bot API on a port bound from the start but listened on only once started: until then a connection
    is refused, as when the Bot API (or the network to it) is down."""

    def __init__(self) -> None:
        super().__init__()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()
        return self.url

    async def stop(self) -> None:
        await super().stop()
        self.sock.close()


class Connects:
    """Counts a channel's ``connect`` calls; ``reached`` is set once there were ``enough``."""

    def __init__(self, channel: ChannelRuntime, enough: int = 1) -> None:
        self.count = 0
        self.enough = enough
        self.reached = asyncio.Event()
        self._connect = channel.connect

    async def __call__(self) -> None:
        self.count += 1
        if self.count >= self.enough:
            self.reached.set()
        await self._connect()


def telegram_channel(db: Database, base_url: str, token: str = TOKEN) -> TelegramChannel:
    settings = TelegramSettings(token=token, base_url=base_url, mode="polling", poll_timeout=1)  # type: ignore[arg-type]
    channel = TelegramChannel(Conversation(make_services(db)), settings)
    channel.connect_policy = QUICK
    return channel


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log lines that carry a traceback."""
    return [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text]


def logged(caplog: pytest.LogCaptureFixture, *, skip: tuple[str, ...] = ()) -> str:
    """What the log shows at INFO and above (PTB's DEBUG lines print its URLs, token included: the process's
    redaction, bot/logs.py, hides them; at INFO and above the token must not be written at all)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and not r.name.startswith(skip))


async def test_an_unreachable_bot_api_is_tried_again_quietly_until_it_answers(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = LateFakeTelegram()
    channel = telegram_channel(sqlite_db, fake.base_url)
    connects = Connects(channel, enough=3)
    monkeypatch.setattr(channel, "connect", connects)
    task = asyncio.create_task(channel.run(pump_interval=0.05))
    try:
        await asyncio.wait_for(connects.reached.wait(), 10)  # refused three times, tried again each time
        assert not channel.connected.is_set() and not task.done() and not channel.refused.is_set()
        async with serving(fake):
            await asyncio.wait_for(channel.connected.wait(), 10)
            await fake.push(fake.message_update(101, "/help"))
            await fake.wait_for(101, "Xin chào")  # the channel runs: polled, handled, answered
    finally:
        channel.stopping.set()
        await finish([task])
        fake.sock.close()
    retries = [r.getMessage() for r in caplog.records if "telegram: connecting failed" in r.getMessage()]
    assert len(retries) >= 2 and all("trying again in" in line for line in retries), retries
    assert all(r.levelno == logging.WARNING for r in caplog.records if "connecting failed" in r.getMessage())
    assert tracebacks(caplog) == [] and "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert TOKEN not in logged(caplog)
    assert not channel.refused.is_set()


async def test_a_refused_token_stops_the_channel_with_one_line_naming_the_key(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(FakeTelegram()) as fake:  # it answers 401 to any token but its own
        channel = telegram_channel(sqlite_db, fake.base_url, token=REFUSED_TOKEN)
        connects = Connects(channel)
        monkeypatch.setattr(channel, "connect", connects)
        await asyncio.wait_for(channel.run(pump_interval=0.05), 10)  # returns by itself: the channel stopped
    assert channel.refused.is_set() and channel.stopping.is_set() and not channel.connected.is_set()
    assert connects.count == 1  # refused credentials are not tried again
    naming = [r for r in caplog.records if "telegram.token" in r.getMessage()]
    assert len(naming) == 1 and naming[0].levelno == logging.ERROR, [r.getMessage() for r in naming]
    assert naming[0].getMessage().startswith("telegram: Telegram refused the bot token (401)")
    assert "the channel is stopped" in naming[0].getMessage()
    for secret in (REFUSED_TOKEN, REFUSED_TOKEN.split(":")[1]):
        assert secret not in logged(caplog)
    assert tracebacks(caplog) == [] and "Traceback" not in caplog.text


def recorded(specs: Sequence[ChannelSpec], built: list[ChannelRuntime], policy: RetryPolicy) -> list[ChannelSpec]:
    """The registry's declarations, each runtime recorded once built and given a quick connect policy."""

    def recording(build: Callable[[Shared], ChannelRuntime]) -> Callable[[Shared], ChannelRuntime]:
        def build_and_record(shared: Shared) -> ChannelRuntime:
            built.append(build(shared))
            built[-1].connect_policy = policy
            return built[-1]

        return build_and_record

    return [replace(spec, build=recording(spec.build)) for spec in specs]


def serve_settings(**sections: Any) -> Settings:
    web_section = {"port": 0, "host": "127.0.0.1", "secret": "link-secret-for-startup-tests-0123456789",
                   "public_url": "https://ocop.example.vn"}
    return Settings(web=web_section, **sections)  # type: ignore[arg-type]


async def test_serve_with_every_channel_refused_returns_1_and_says_so(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(FakeTelegram()) as telegram, serving(FakeZaloBot()) as zalo:
        settings = serve_settings(
            telegram={"token": REFUSED_TOKEN, "base_url": telegram.base_url, "mode": "polling"},
            zalo={"bot": {"token": "1234:zalo-token-revoked", "base_url": zalo.url, "mode": "polling"}},
        )
        built: list[ChannelRuntime] = []
        status = await asyncio.wait_for(serve(settings, sqlite_db, channels=recorded(registry(), built, QUICK),
                                              stop=asyncio.Event()), 20)
    assert status == 1
    assert [c.name for c in built] == ["telegram", "zalo_bot"] and all(c.refused.is_set() for c in built)
    assert "no channel is running" in capsys.readouterr().err
    assert "telegram.token" in caplog.text and "zalo.bot.token" in caplog.text
    channels = logged(caplog, skip=("bot.broadcast_sender",))  # see test_the_broadcast_lane_never_words_a_refused_token
    assert REFUSED_TOKEN not in channels and "zalo-token-revoked" not in logged(caplog)
    assert tracebacks(caplog) == []


async def test_the_broadcast_lane_never_words_a_refused_token() -> None:
    async with serving(FakeTelegram()) as fake:
        transport = TelegramTransport(REFUSED_TOKEN, fake.base_url, paid=False, timeout=5, connections=2)
        try:
            with pytest.raises(ChannelUnavailable) as refused:
                await transport.start()
        finally:
            await transport.stop()
    assert REFUSED_TOKEN.split(":")[1] not in str(refused.value)


async def test_serve_keeps_running_while_one_channel_is_refused(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(FakeTelegram()) as telegram, serving(FakeZaloBot()) as zalo:
        settings = serve_settings(
            telegram={"token": TOKEN, "base_url": telegram.base_url, "mode": "polling", "poll_timeout": 1},
            zalo={"bot": {"token": "1234:zalo-token-revoked", "base_url": zalo.url, "mode": "polling"}},
        )
        built: list[ChannelRuntime] = []
        stop = asyncio.Event()
        serving_task = asyncio.create_task(serve(settings, sqlite_db, channels=recorded(registry(), built, QUICK),
                                                 stop=stop))
        try:
            await telegram.push(telegram.message_update(101, "/help"))
            await telegram.wait_for(101, "Xin chào")  # Telegram answers...
            zalo_bot = next(c for c in built if c.name == "zalo_bot")
            await asyncio.wait_for(zalo_bot.refused.wait(), 10)  # ...while the Zalo bot was refused
            await telegram.push(telegram.message_update(102, "/help"))
            await telegram.wait_for(102, "Xin chào")  # and still does after
            assert not serving_task.done()
        finally:
            stop.set()
        assert await asyncio.wait_for(serving_task, 20) == 0
    assert "no channel is running" not in capsys.readouterr().err


async def test_the_serve_process_exits_with_status_1_when_no_channel_is_running(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """The real `ocop-bot serve`: its exit status, its message, the key named and the token never printed."""
    async with serving(FakeTelegram()) as fake:
        configured = ServeProcess(tmp_path, unused_tcp_port, {
            "OCOP_BOT__TELEGRAM__TOKEN": REFUSED_TOKEN,
            "OCOP_BOT__TELEGRAM__BASE_URL": fake.base_url,
            "OCOP_BOT__TELEGRAM__MODE": "polling",
        })
        process = await asyncio.create_subprocess_exec(
            str(BIN), "serve", cwd=tmp_path, env=configured.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = (part.decode(errors="replace") for part in await asyncio.wait_for(process.communicate(), 60))
    assert process.returncode == 1, err
    assert "no channel is running" in err
    assert "telegram.token" in err and "Traceback" not in err
    assert REFUSED_TOKEN not in out + err and REFUSED_TOKEN.split(":")[1] not in out + err

