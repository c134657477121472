"""The channel registry: each channel module declares itself, `serve` runs what is configured (a channel it has never
heard of too), admins come from the declarations, periodic work runs once per process, and the console is a channel
like the others."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import bot.housekeeping
from bot.broadcast_sender import Lane, SendRate, build_sender
from bot.broadcast_transports import Transport
from bot.channel import ChannelRuntime, ChannelSpec, Shared
from bot.channels import admin_ids, broadcast_channels, configured, how_to_enable, registry
from bot.cli import serve
from bot.config import AdminSettings, Settings, WebSettings
from bot.console import CHANNEL as CONSOLE
from bot.console import ConsoleChannel
from bot.inbox_worker import Prepared
from bot.runtime import build_services
from bot.stopping import finish
from handlers.app import Conversation
from handlers.messages import Capabilities, Reply
from handlers.render import Rendered
from models.db import Database
from models.notifications import enqueue
from models.people import Identity, User
from models.stored_files import StoredFile
from tests.chat import make_services
from tests.fake_zalo import wait_until


class Recording(ChannelRuntime):
    """A channel nobody wrote into cli.py: what happens to it is recorded."""

    capabilities = Capabilities()

    def __init__(self, conversation: Conversation, name: str, events: list[str]) -> None:
        super().__init__(conversation)
        self.name = name
        self.events = events

    async def start(self, web_app: web.Application) -> None:
        self.events.append(f"{self.name} started")

    async def run(self, pump_interval: float = 1.0) -> None:
        await super().run(pump_interval=0.02)

    async def stop(self) -> None:
        self.events.append(f"{self.name} stopped")

    async def prepare(self, payload: dict[str, Any]) -> Prepared | None:
        return None  # nobody writes to it in these tests

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        self.events.append(f"{self.name} sent to {chat_id}")


class NoTransport(Transport):
    channel = "pigeon"

    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        raise AssertionError("nothing is broadcast in these tests")


def declare(name: str, events: list[str], built: list[Recording], *, on: bool = True, lane: bool = False) -> ChannelSpec:
    def build(shared: Shared) -> Recording:
        built.append(Recording(shared.conversation, name, events))
        return built[-1]

    return ChannelSpec(
        name=name, section=name, enabled_by=f"{name}.token", configured=lambda _settings: on, admins="console",
        build=build, broadcast=(lambda _shared: Lane(NoTransport(), SendRate(1.0), 1)) if lane else None,
    )


def settings(**admins: list[str]) -> Settings:
    return Settings(web=WebSettings(port=0), admins=AdminSettings(**admins))  # type: ignore[arg-type]


def test_every_channel_module_declares_itself() -> None:
    found = {spec.name: spec for spec in registry()}
    assert list(found) == ["console", "telegram", "zalo_bot", "zalo_oa"]
    modules = {name: spec.build.__module__ for name, spec in found.items()}
    assert modules == {"console": "bot.console", "telegram": "bot.telegram", "zalo_bot": "bot.zalo_bot",
                       "zalo_oa": "bot.zalo_oa"}
    assert [name for name, spec in found.items() if spec.broadcast is not None] == ["console", "telegram", "zalo_bot"]
    assert broadcast_channels() == ("console", "telegram", "zalo_bot")
    assert how_to_enable() == "telegram.token, zalo.bot.token or zalo.oa.refresh_token"


def test_only_configured_channels_are_started() -> None:
    assert configured(Settings()) == []  # the console is never started by serve: it needs a terminal
    telegram = Settings(telegram={"token": "123:ABC"})  # type: ignore[arg-type]
    assert [spec.name for spec in configured(telegram)] == ["telegram"]
    both = Settings(zalo={"bot": {"token": "1:x"}, "oa": {"refresh_token": "r"}},  # type: ignore[arg-type]
                    web={"secret": "link-secret-for-channel-tests-0123456789", "public_url": "https://ocop.example.vn"})
    assert [spec.name for spec in configured(both)] == ["zalo_bot", "zalo_oa"]


async def test_admins_come_from_the_declarations(sqlite_db: Database) -> None:
    listed = settings(telegram=["9000"], zalo=["z1", "z2"], console=["office"])
    services = build_services(listed, sqlite_db)
    assert services.admin_ids == {
        "console": frozenset({"office"}), "telegram": frozenset({"9000"}),
        "zalo_bot": frozenset({"z1", "z2"}), "zalo_oa": frozenset({"z1", "z2"}),  # [admins] zalo serves both
    }
    pigeon = declare("pigeon", [], [])
    assert admin_ids(listed, [pigeon]) == {"pigeon": frozenset({"office"})}  # it reads [admins] console


async def test_broadcast_lanes_come_from_the_configured_declarations(sqlite_db: Database) -> None:
    channels = [declare("pigeon", [], [], lane=True), declare("owl", [], [], lane=True, on=False),
                declare("crow", [], [])]
    sender = build_sender(settings(), sqlite_db, channels=channels)
    assert sender is not None and list(sender.lanes) == ["pigeon"]
    assert build_sender(settings(), sqlite_db, channels=channels[1:]) is None  # no lane: no sender
    with_console = build_sender(settings(), sqlite_db, channels=[CONSOLE, *channels])
    assert with_console is not None and list(with_console.lanes) == ["console", "pigeon"]  # needs no platform


async def test_serve_runs_the_configured_channels_and_one_housekeeping(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two channels cli.py has never heard of, a third one not configured; the periodic work runs once for all."""
    calls: list[str] = []

    async def counted(name: str, result: object) -> object:
        calls.append(name)
        return result

    monkeypatch.setattr(bot.housekeeping, "run_due", lambda _services: counted("run_due", (0, 0)))
    monkeypatch.setattr(bot.housekeeping, "send_reminders", lambda _services: counted("send_reminders", 0))
    monkeypatch.setattr(bot.housekeeping, "remove_expired", lambda _session, _now: counted("remove_expired", 0))
    events: list[str] = []
    built: list[Recording] = []
    channels = [declare("pigeon", events, built), declare("owl", events, built), declare("crow", events, built, on=False)]
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings(), sqlite_db, channels=channels, stop=stop))
    try:
        await wait_until(lambda: len(built) == 2 and all(channel.pumped >= 5 for channel in built),
                         what="both pumps running")
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, 20) == 0
    assert [channel.name for channel in built] == ["pigeon", "owl"]  # crow is not configured: never built
    assert events[:2] == ["pigeon started", "owl started"] and sorted(events[2:]) == ["owl stopped", "pigeon stopped"]
    assert calls == ["run_due", "send_reminders", "remove_expired"]  # one housekeeping round, not one per channel


async def test_the_housekeeping_loop_stops_between_rounds(sqlite_db: Database) -> None:
    keeper = bot.housekeeping.Housekeeping(make_services(sqlite_db), every=0.01)
    task = asyncio.create_task(keeper.run())
    await wait_until(lambda: keeper.rounds >= 3, what="three rounds")
    keeper.stopping.set()
    await finish([task], grace=5)
    assert task.done() and not task.cancelled()  # it ended its round, it was not cancelled


# -- the console --------------------------------------------------------------------------------------------------


@pytest.fixture
async def typing() -> AsyncIterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """A terminal's input: what the test writes is read line by line; closing the writer is Ctrl-D."""
    read, write = os.pipe()
    reader, writer = os.fdopen(read, "r", encoding="utf-8"), os.fdopen(write, "w", encoding="utf-8")
    yield reader, writer
    for end in (writer, reader):
        if not end.closed:
            end.close()


async def console_user(db: Database, name: str) -> int:
    async with db.transaction() as session:
        user = User(display_name=name)
        session.add(user)
        await session.flush()
        session.add(Identity(user_id=user.id or 0, channel="console", external_id=name))
        return user.id or 0


async def test_the_console_delivers_notifications_through_the_shared_pump(
    sqlite_db: Database, tmp_path: Path, typing: tuple[io.TextIOWrapper, io.TextIOWrapper]
) -> None:
    reader, writer = typing
    lan, mai = await console_user(sqlite_db, "lan"), await console_user(sqlite_db, "mai")
    out = io.StringIO()
    console = ConsoleChannel(Conversation(make_services(sqlite_db)), "lan", lines=reader, out=out,
                             documents=tmp_path / "documents")
    await console.start()
    running = asyncio.create_task(console.run(pump_interval=0.02))
    async with sqlite_db.transaction() as session:
        enqueue(session, lan, Reply("Yêu cầu liên hệ mới #7").to_json())
        enqueue(session, mai, Reply("Tin cho Mai").to_json())  # another terminal's user
    await wait_until(lambda: "Yêu cầu liên hệ mới #7" in out.getvalue(), what="the notification, nothing typed")
    writer.close()  # Ctrl-D: the chat ends, its pump with it
    await asyncio.wait_for(running, 10)
    shown = out.getvalue()
    assert shown.startswith("ocop-bot — lan. /help for help") and "\nYêu cầu liên hệ mới #7\n" in shown
    assert "Tin cho Mai" not in shown and console.stopping.is_set()
