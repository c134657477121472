"""Hostile webhook bodies against the real channels over HTTP on 127.0.0.1: a wrong secret or signature is refused
before the body is parsed (Zalo OA: answered 200 and dropped), a body that is not an update is refused, and none of
it is stored, answered with a 500
or logged with a traceback. A real update is still taken afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import pytest
from sqlmodel import func, select

from bot.config import TelegramSettings
from bot.stopping import finish
from bot.telegram import SECRET_HEADER as TELEGRAM_SECRET_HEADER
from bot.telegram import TelegramChannel
from bot.web import make_app, start_site
from bot.zalo_bot import SECRET_HEADER as ZALO_BOT_SECRET_HEADER
from bot.zalo_oa import SIGNATURE_HEADER
from handlers.app import Conversation
from handlers.context import Services
from models.db import Database
from models.inbox import InboundUpdate
from tests.chat import make_services
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import WEBHOOK_SECRET, FakeZaloBot, FakeZaloOA, wait_until
from tests.loopback import serving
from tests.zalo_users import zalo_bot, zalo_oa

SECRET = "hostile-test-secret_0123"
DEEP = b"[" * 200_000  # nested past any recursion limit
BEYOND_64_BITS = 2**64 + 1

# What the Zalo OA webhook answers: 200 to everything (Zalo retries any other answer for an hour and then marks the
# webhook unreachable), the post dropped. The invariant tested stays: never 500, nothing stored, no traceback.
OA_STATUS = {
    "unsigned": 200,
    "forged": 200,
    "not JSON": 200,
    "not an object": 200,
    "no event of ours": 200,
}


async def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=dict(headers)) as response:
        return response.status


async def stored(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(InboundUpdate))).one()


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing logged as an error, and no traceback (an unhandled exception, a RecursionError)."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info or r.exc_text]
    assert loud == [], [r.getMessage() for r in loud]
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


# -- Telegram ---------------------------------------------------------------------------------------------------


@dataclass
class TelegramHook:
    channel: TelegramChannel
    fake: FakeTelegram
    url: str

    async def post(self, body: bytes, secret: str | None = SECRET) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[TELEGRAM_SECRET_HEADER] = secret
        return await post(self.url, body, headers)


@pytest.fixture
async def telegram(sqlite_db: Database, caplog: pytest.LogCaptureFixture) -> AsyncIterator[TelegramHook]:
    """The Telegram channel in webhook mode behind our web server, against the fake Bot API."""
    caplog.set_level(logging.INFO)
    async with serving(FakeTelegram()) as fake:
        services = make_services(sqlite_db)
        settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, mode="webhook",  # type: ignore[arg-type]
                                    webhook_secret=SECRET, webhook_url="https://ocop.example.vn/telegram/webhook")
        channel = TelegramChannel(Conversation(services), settings)
        app = make_app(services)
        await channel.start(app)
        runner, port = await start_site(app, "127.0.0.1", 0)
        task = asyncio.create_task(channel.run(pump_interval=0.05))
        try:
            await asyncio.wait_for(channel.connected.wait(), 10)
            yield TelegramHook(channel, fake, f"http://127.0.0.1:{port}/telegram/webhook")
        finally:
            channel.stopping.set()
            await finish([task])
            await runner.cleanup()


async def test_telegram_refuses_a_wrong_or_missing_secret_before_reading_the_body(
    telegram: TelegramHook, caplog: pytest.LogCaptureFixture
) -> None:
    update = json.dumps(telegram.fake.message_update(101, "/help")).encode()
    attempts = {
        "wrong secret": (update, "wrong"),
        "no secret": (update, None),
        "empty secret": (update, ""),
        "the secret with a suffix": (update, SECRET + "x"),
        "deep nesting, wrong secret": (DEEP, "wrong"),
        "deep nesting, no secret": (DEEP, None),
    }
    statuses = {name: await telegram.post(body, secret) for name, (body, secret) in attempts.items()}
    assert statuses == dict.fromkeys(attempts, 403)
    assert await stored(telegram.channel.services.db) == 0
    assert telegram.channel.inbox.processed == 0
    assert_quiet(caplog)


async def test_telegram_refuses_bodies_that_are_not_updates(
    telegram: TelegramHook, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = {
        "null": b"null",
        "a list": b'[{"update_id": 1}]',
        "a string": b'"update"',
        "a number": b"42",
        "invalid JSON": b'{"update_id": 1,',
        "empty": b"",
        "not UTF-8": b"\xff\xfe\x00{",
        "deep nesting": DEEP,
        "update_id null": b'{"update_id": null}',
        "update_id a string": b'{"update_id": "x"}',
        "update_id a numeric string": b'{"update_id": "7"}',
        "update_id true": b'{"update_id": true}',
        "update_id a float": b'{"update_id": 1.5}',
        "update_id negative": b'{"update_id": -1}',
        "update_id infinite": b'{"update_id": 1e400}',
        "update_id NaN": b'{"update_id": NaN}',
        "update_id beyond 64 bits": json.dumps({"update_id": BEYOND_64_BITS}).encode(),
        "update_id of a 10,000-digit number": b'{"update_id": ' + b"9" * 10_000 + b"}",
        "no update_id": b'{"message": {"text": "hi"}}',
    }
    statuses = {name: await telegram.post(body) for name, body in bodies.items()}
    assert statuses == dict.fromkeys(bodies, 400)
    assert await stored(telegram.channel.services.db) == 0
    assert_quiet(caplog)

    update = telegram.fake.message_update(101, "/help")  # a real update is still taken
    assert await telegram.post(json.dumps(update).encode()) == 200
    assert await stored(telegram.channel.services.db) == 1
    await telegram.fake.wait_for(101, "Xin chào")
    assert_quiet(caplog)


async def test_telegram_takes_the_largest_64_bit_update_id(telegram: TelegramHook) -> None:
    update = {**telegram.fake.message_update(101, "/help"), "update_id": 2**63 - 1}
    assert await telegram.post(json.dumps(update).encode()) == 200
    async with telegram.channel.services.db.session() as session:
        assert (await session.exec(select(InboundUpdate.update_key))).all() == [str(2**63 - 1)]


# -- Zalo Official Account --------------------------------------------------------------------------------------


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    return make_services(sqlite_db)


@pytest.fixture
async def oa_fake() -> AsyncIterator[FakeZaloOA]:
    async with serving(FakeZaloOA()) as server:
        yield server


def oa_bodies(fake: FakeZaloOA) -> dict[str, tuple[str, bytes, str]]:
    """Name -> (what OA_STATUS calls it, raw body, signature header)."""
    event = json.dumps(fake.text("3001", "che tan cuong")).encode()
    stamp = b'"timestamp": "1750316131602"'

    def signed(raw: bytes) -> str:
        return fake.signature(raw, "1750316131602")

    deep = b"{" + stamp + b', "x": ' + DEEP + b"}"
    return {
        "a real event, no signature": ("unsigned", event, ""),
        "deep nesting, no signature": ("unsigned", DEEP, ""),
        "deep nesting, a made-up signature": ("forged", DEEP, "mac=" + "0" * 64),
        "deep nesting with a timestamp, signed with a guessed key": (
            "forged", deep, fake.signature(deep, "1750316131602", key="guessed")),
        "a real event, signed for another body": ("forged", event, signed(event + b" ")),
        "signed, invalid JSON": ("not JSON", b"{" + stamp + b", ", signed(b"{" + stamp + b", ")),
        "signed, not UTF-8": ("not JSON", b"\xff" + stamp, signed(b"\xff" + stamp)),
        "signed, deep nesting": ("not JSON", deep, signed(deep)),
        "signed, a list": ("not an object", b"[{" + stamp + b"}]", signed(b"[{" + stamp + b"}]")),
        "signed, an object with no event": ("no event of ours", b"{" + stamp + b"}", signed(b"{" + stamp + b"}")),
        "signed, odd types": ("no event of ours",
                              b'{"event_name": ["user_send_text"], "sender": "x", "message": 5, ' + stamp + b"}",
                              signed(b'{"event_name": ["user_send_text"], "sender": "x", "message": 5, ' + stamp
                                     + b"}")),
    }


async def test_zalo_oa_refuses_hostile_bodies_without_storing_them(
    oa_fake: FakeZaloOA, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bodies = oa_bodies(oa_fake)
    async with zalo_oa(services, oa_fake) as run:
        statuses = {name: await post(run.hook, body, {"Content-Type": "application/json", SIGNATURE_HEADER: mac})
                    for name, (_kind, body, mac) in bodies.items()}
        assert statuses == {name: OA_STATUS[kind] for name, (kind, _body, _mac) in bodies.items()}
        assert 500 not in statuses.values()
        assert await stored(services.db) == 0 and run.channel.inbox.processed == 0
        assert_quiet(caplog)

        assert await oa_fake.push(run.hook, oa_fake.text("3001", "/help")) == 200  # a real event is still taken
        await wait_until(lambda: bool(oa_fake.texts("3001")), what="the reply to the real event")
        assert await stored(services.db) == 1
    assert_quiet(caplog)


# -- Zalo Bot Platform ------------------------------------------------------------------------------------------


@pytest.fixture
async def bot_fake() -> AsyncIterator[FakeZaloBot]:
    async with serving(FakeZaloBot()) as server:
        yield server


async def test_zalo_bot_refuses_a_wrong_secret_and_bodies_that_are_not_updates(
    bot_fake: FakeZaloBot, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    update = json.dumps(bot_fake.update("a1", "che tan cuong")).encode()
    refused = {
        "wrong secret": (update, "not-the-secret"),
        "no secret": (update, None),
        "deep nesting, wrong secret": (DEEP, "not-the-secret"),
    }
    not_updates = {
        "null": b"null", "a list": b"[" + update + b"]", "a string": b'"x"', "a number": b"7", "true": b"true",
        "invalid JSON": b"{", "not UTF-8": b"\xff\xfe", "deep nesting": DEEP,
    }
    async with zalo_bot(services, bot_fake, "webhook") as run:

        async def send(body: bytes, secret: str | None = WEBHOOK_SECRET) -> int:
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers[ZALO_BOT_SECRET_HEADER] = secret
            return await post(run.hook, body, headers)

        assert {name: await send(body, secret) for name, (body, secret) in refused.items()} == dict.fromkeys(
            refused, 403)
        assert {name: await send(body) for name, body in not_updates.items()} == dict.fromkeys(not_updates, 400)
        assert await send(b'{"event_name": "message.text.received", "message": "x"}') == 200  # no user message
        assert await stored(services.db) == 0 and run.channel.inbox.processed == 0
        assert_quiet(caplog)

        assert await send(update) == 200  # a real update is still taken
        await wait_until(lambda: bool(bot_fake.sent("a1")), what="the reply to the real update")
        assert await stored(services.db) == 1
    assert_quiet(caplog)
