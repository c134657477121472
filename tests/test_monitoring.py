"""Running it for a season: `serve` against the loopback Telegram, scraped over HTTP as Prometheus would — the
metrics move as a conversation runs, a notification goes out and a broadcast sends; /metrics refuses a scraper
without the token; /readyz says when a channel stopped; a bug's JSON log line carries the error id the user was
shown, the chat and the update, and no secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot.logs
from bot.cli import serve
from bot.config import Settings
from bot.logs import JsonFormatter, Redactor, install_redaction
from bot.web import make_app, start_site
from handlers.app import Conversation
from handlers.messages import Reply
from models import outbox
from models.broadcasts import Audience, AudienceKind, create_broadcast
from models.clock import FakeClock, SystemClock
from models.db import Database
from models.metrics import Metrics
from models.notifications import Notification, enqueue
from models.people import Role, user_for_identity
from tests.chat import load_catalogue, make_services
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import FakeZaloBot
from tests.loopback import serving

METRICS_TOKEN = "scrape-token-0123456789-abcdefgh"
ADMIN, BUYER, OTHER, BLOCKER = 9000, 1001, 1002, 1003
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@dataclass
class Running:
    base: str
    fake: FakeTelegram
    db: Database

    async def get(self, path: str, token: str | None = METRICS_TOKEN) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with aiohttp.ClientSession() as session, session.get(self.base + path, headers=headers) as response:
            return response.status, await response.text()

    async def scrape(self) -> Samples:
        status, text = await self.get("/metrics")
        assert status == 200, text
        return parse(text)

    async def scrape_until(self, condition: Callable[[Samples], bool], what: str, timeout: float = 10.0) -> Samples:
        """Scrape until ``condition`` holds (the counters move just after the fake saw the call)."""
        deadline = time.monotonic() + timeout
        while not condition(samples := await self.scrape()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)
        return samples


def settings(port: int, fake: FakeTelegram, *, web: dict[str, Any] | None = None, **sections: Any) -> Settings:
    values: dict[str, Any] = {
        "web": {"host": "127.0.0.1", "port": port, **(web or {})},
        "telegram": {"token": TOKEN, "base_url": fake.base_url, "mode": "polling", "poll_timeout": 1},
        "metrics": {"token": METRICS_TOKEN},
        "admins": {"telegram": [str(ADMIN)]},
        "broadcast": {"progress_seconds": 0.2, "retry_first_seconds": 0.1},
    }
    return Settings(**{**values, **sections})


@asynccontextmanager
async def served(db: Database, config: Settings, fake: FakeTelegram) -> AsyncIterator[Running]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, db, stop=stop))
    running = Running(f"http://127.0.0.1:{config.web.port}", fake, db)
    try:
        deadline = time.monotonic() + 20
        while True:  # ready: the web server answers and every channel is connected
            try:
                if (await running.get("/readyz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            assert not task.done() and time.monotonic() < deadline, "serve did not get ready"
            await asyncio.sleep(0.05)
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_metrics_follow_a_conversation_a_notification_and_a_broadcast(
    sqlite_db: Database, unused_tcp_port: int
) -> None:
    await load_catalogue(sqlite_db)
    async with serving(FakeTelegram()) as fake, served(sqlite_db, settings(unused_tcp_port, fake), fake) as run:
        before = await run.scrape()
        assert value(before, "ocop_channel_up", channel="telegram") == 1
        assert value(before, "ocop_channel_state", channel="telegram", state="running", reason="") == 1
        assert value(before, "ocop_database_up") == 1
        assert value(before, "ocop_updates_received_total", channel="telegram") == 0

        fake.throttle_chat[BUYER] = [1]  # the first reply is answered 429 (retry after 1 s) once, then goes through
        await fake.push(fake.message_update(BUYER, "che thai nguyen"))
        await fake.wait_for(BUYER, "Chè")
        after = await run.scrape_until(
            lambda s: value(s, "ocop_messages_sent_total", channel="telegram", kind="reply") >= 1, "the reply")
        assert value(after, "ocop_updates_received_total", channel="telegram") == 1
        assert value(after, "ocop_updates_handled_total", channel="telegram", outcome="handled") == 1
        assert value(after, "ocop_update_handling_seconds_count", channel="telegram") == 1
        assert value(after, "ocop_update_handling_seconds_sum", channel="telegram") > 0
        assert value(after, "ocop_messages_queued_total", channel="telegram", kind="reply") >= 1
        assert value(after, "ocop_search_seconds_count") == 1
        assert value(after, "ocop_platform_throttled_total", platform="telegram") == 1
        assert value(after, "ocop_platform_retries_total", platform="telegram") >= 1

        async with sqlite_db.transaction() as session:  # a notification for the buyer (a producer answered…)
            buyer = await user_for_identity(session, "telegram", str(BUYER))
            enqueue(session, buyer.id or 0, Reply("Cơ sở đã trả lời yêu cầu của bạn").to_json())
        await fake.wait_for(BUYER, "đã trả lời")
        after = await run.scrape_until(
            lambda s: value(s, "ocop_messages_sent_total", channel="telegram", kind="notification") == 1,
            "the notification")
        assert value(after, "ocop_messages_queued_total", channel="telegram", kind="notification") == 1
        assert value(after, "ocop_outbox_depth", channel="telegram", kind="reply") == 0

        fake.blocked.add(BLOCKER)  # a user who wrote, then blocked the bot before the answer went out
        await fake.push(fake.message_update(BLOCKER, "/help"))
        after = await run.scrape_until(
            lambda s: value(s, "ocop_messages_failed_total", channel="telegram", kind="reply", reason="blocked") == 1,
            "the reply to a user who blocked the bot")
        assert value(after, "ocop_updates_handled_total", channel="telegram", outcome="handled") == 2

        # A broadcast to two buyers on Telegram and one on the Zalo bot, which this process does not run: that
        # delivery stays pending, so the broadcast is still sending when the Telegram ones are done.
        async with sqlite_db.transaction() as session:
            admin = await user_for_identity(session, "telegram", str(ADMIN))
            admin.role = Role.ADMIN.value
            for channel, chat in (("telegram", str(BUYER)), ("telegram", str(OTHER)), ("zalo_bot", "z1")):
                (await user_for_identity(session, channel, chat)).role = Role.BUYER.value
            await create_broadcast(session, admin, channel="telegram", chat_id=str(ADMIN), text="Hội chợ OCOP 2026",
                                   photo="", audience=Audience(AudienceKind.BUYERS),
                                   channels=("telegram", "zalo_bot"), now=SystemClock().now())
        sending = await run.scrape_until(
            lambda s: value(s, "ocop_broadcast_recipients", status="sent") == 2, "the broadcast's Telegram sends")
        assert value(sending, "ocop_broadcasts_sending") == 1
        assert value(sending, "ocop_broadcast_recipients", status="pending") == 1
        assert value(sending, "ocop_broadcast_deliveries_total", channel="telegram", outcome="sent") == 2
        assert {chat for chat in (BUYER, OTHER) if any("Hội chợ" in c.text for c in fake.sent_to(chat))} == {
            BUYER, OTHER}


@asynccontextmanager
async def site(db: Database, token: str | None) -> AsyncIterator[Running]:
    """The web app alone (no channel) on a loopback port."""
    runner, port = await start_site(make_app(make_services(db), metrics_token=token), "127.0.0.1", 0)
    try:
        yield Running(f"http://127.0.0.1:{port}", FakeTelegram(), db)
    finally:
        await runner.cleanup()


async def test_metrics_refuse_a_scraper_without_the_token(sqlite_db: Database) -> None:
    async with site(sqlite_db, METRICS_TOKEN) as run:
        for token in (None, "", "scrape-token-0123456789-abcdefgX", METRICS_TOKEN[:-1], METRICS_TOKEN + "x"):
            status, text = await run.get("/metrics", token)
            assert status == 401 and "ocop_" not in text
        async with aiohttp.ClientSession() as session:  # the token must come as a bearer token, nothing else
            async with session.get(f"{run.base}/metrics?token={METRICS_TOKEN}") as response:
                assert response.status == 401
            async with session.get(f"{run.base}/metrics", headers={"Authorization": METRICS_TOKEN}) as response:
                assert response.status == 401
        status, text = await run.get("/metrics")
        assert status == 200 and "ocop_outbox_depth" in text and METRICS_TOKEN not in text


async def test_without_a_token_there_is_no_metrics_page(sqlite_db: Database) -> None:
    async with site(sqlite_db, None) as run:
        assert (await run.get("/metrics"))[0] == 404


async def test_metrics_say_when_the_database_is_gone(sqlite_db: Database) -> None:
    """A disposed engine pointed at a closed port: /metrics still answers (the counters), database_up is 0."""
    gone = Database("postgresql+asyncpg://ocop:not-this-password@127.0.0.1:9/ocop")
    await gone.dispose()
    async with site(gone, METRICS_TOKEN) as run:
        samples = await run.scrape()
        assert value(samples, "ocop_database_up") == 0
        status, text = await run.get("/readyz")
        assert status == 503 and json.loads(text)["ready"] is False and "not-this-password" not in text


async def test_the_outbox_and_broadcasts_are_read_at_scrape_time(db: Database) -> None:
    """Depth per channel and kind, the age of the oldest message (by the clock the outbox is written with), and the
    recipients of the broadcasts being sent; back to 0 once sent."""
    services = make_services(db)
    clock = services.clock
    assert isinstance(clock, FakeClock)
    async with db.transaction() as session:
        buyer = await user_for_identity(session, "telegram", str(BUYER))
        buyer.role = Role.BUYER.value
        admin = await user_for_identity(session, "telegram", str(ADMIN))
        admin.role = Role.ADMIN.value
        await session.flush()
        first = await outbox.add(session, "telegram", str(BUYER), {"text": "a reply"}, now=clock.now())
        await create_broadcast(session, admin, channel="telegram", chat_id=str(ADMIN), text="Hội chợ", photo="",
                               audience=Audience(AudienceKind.BUYERS), channels=("telegram",), now=clock.now())
    clock.advance(minutes=3)
    async with db.transaction() as session:
        notification = Notification(user_id=buyer.id or 0, payload={"text": "x"}, created_at=clock.now())
        session.add(notification)
        await session.flush()
        await outbox.add(session, "telegram", str(BUYER), {"text": "for you"}, notification_id=notification.id,
                         now=clock.now())
        await outbox.add(session, "zalo_bot", "z1", {"text": "a reply"}, now=clock.now())
    clock.advance(seconds=30)
    runner, port = await start_site(make_app(services, metrics_token=METRICS_TOKEN), "127.0.0.1", 0)
    try:
        run = Running(f"http://127.0.0.1:{port}", FakeTelegram(), db)
        samples = await run.scrape()
        assert value(samples, "ocop_outbox_depth", channel="telegram", kind="reply") == 1
        assert value(samples, "ocop_outbox_depth", channel="telegram", kind="notification") == 1
        assert value(samples, "ocop_outbox_depth", channel="zalo_bot", kind="reply") == 1
        assert value(samples, "ocop_outbox_oldest_age_seconds", channel="telegram") == 210
        assert value(samples, "ocop_outbox_oldest_age_seconds", channel="zalo_bot") == 30
        assert value(samples, "ocop_broadcasts_sending") == 1
        assert value(samples, "ocop_broadcast_recipients", status="pending") == 1
        assert value(samples, "ocop_database_up") == 1
        await outbox.mark_sent(db, [first], clock.now())
        samples = await run.scrape()
        assert value(samples, "ocop_outbox_depth", channel="telegram", kind="reply") == 0  # not left at 1
        assert value(samples, "ocop_outbox_oldest_age_seconds", channel="telegram") == 30
    finally:
        await runner.cleanup()


async def test_readyz_says_which_channel_stopped_and_why(sqlite_db: Database, unused_tcp_port: int) -> None:
    """The Zalo bot's token is refused: that channel stops, Telegram goes on; /readyz is 503 naming it, /healthz
    still answers (the process is alive), /metrics shows it down."""
    async with serving(FakeTelegram()) as fake, serving(FakeZaloBot()) as zalo:
        config = settings(unused_tcp_port, fake,
                          web={"secret": "link-secret-for-monitoring-tests-0123456789",
                               "public_url": "https://ocop.example.vn"},
                          zalo={"bot": {"token": "1234:zalo-token-revoked", "base_url": zalo.url, "mode": "polling"}})
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, sqlite_db, stop=stop))
        run = Running(f"http://127.0.0.1:{unused_tcp_port}", fake, sqlite_db)
        try:
            body: dict[str, Any] = {}
            deadline = time.monotonic() + 20
            while body.get("channels", {}).get("zalo_bot", {}).get("state") != "stopped":
                assert time.monotonic() < deadline and not task.done(), body
                await asyncio.sleep(0.05)
                try:
                    status, text = await run.get("/readyz")
                    body = json.loads(text)
                except aiohttp.ClientError:
                    continue
            await fake.push(fake.message_update(BUYER, "/help"))
            await fake.wait_for(BUYER, "Xin chào")  # Telegram still answers
            status, text = await run.get("/readyz")
            body = json.loads(text)
            assert status == 503 and body["ready"] is False and body["database"] == "ok"
            assert body["migrations"]["current"] is True
            assert body["channels"] == {"telegram": {"state": "running", "reason": ""},
                                        "zalo_bot": {"state": "stopped", "reason": "credentials_refused"}}
            alive, text = await run.get("/healthz")
            assert alive == 200 and json.loads(text)["channels"] == body["channels"]
            samples = await run.scrape()
            assert value(samples, "ocop_channel_up", channel="zalo_bot") == 0
            assert value(samples, "ocop_channel_up", channel="telegram") == 1
            assert value(samples, "ocop_channel_state", channel="zalo_bot", state="stopped",
                         reason="credentials_refused") == 1
            assert "zalo-token-revoked" not in text + json.dumps(body)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


def test_each_app_has_a_registry_of_its_own() -> None:
    first, second = Metrics(), Metrics()  # two apps in one process: no "Duplicated timeseries" error
    first.updates_received.labels("telegram").inc(3)
    assert value(parse(first.render().decode()), "ocop_updates_received_total", channel="telegram") == 3
    assert value(parse(second.render().decode()), "ocop_updates_received_total", channel="telegram") == 0


# -- JSON log lines -----------------------------------------------------------------------------------------------


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The process's logging as `log_format = "json"` makes it, for one test: redacted records, one JSON object a
    line; the process's logging restored afterwards."""
    fresh = Redactor()
    fresh.add(TOKEN)
    monkeypatch.setattr(bot.logs, "redact", fresh)
    factory = logging.getLogRecordFactory()
    install_redaction()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)
        logging.captureWarnings(False)


async def test_a_bugs_json_log_line_carries_the_ids_and_no_secret(
    sqlite_db: Database, unused_tcp_port: int, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    original: Callable[..., Awaitable[None]] = Conversation._dispatch

    async def buggy(self: Conversation, ctx: Any) -> None:
        if ctx.incoming.text == "/explode":
            raise RuntimeError(f"a bug that quotes the token {TOKEN}")
        await original(self, ctx)

    monkeypatch.setattr(Conversation, "_dispatch", buggy)
    async with serving(FakeTelegram()) as fake, served(sqlite_db, settings(unused_tcp_port, fake), fake):
        update = fake.message_update(BUYER, "/explode")
        await fake.push(update)
        apology = await fake.wait_for(BUYER, "")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]  # every line is one JSON object
    bugs = [line for line in lines if "handling an update" in line["message"]]
    assert len(bugs) == 1, lines
    bug = bugs[0]
    assert bug["level"] == "ERROR" and bug["error_id"] in apology.text  # the id the user was shown
    assert (bug["channel"], bug["chat_id"], bug["update_id"]) == ("telegram", str(BUYER), str(update["update_id"]))
    assert "RuntimeError: a bug that quotes the token ***" in bug["exception"]
    assert TOKEN not in json_log.getvalue()
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_a_json_line_redacts_what_it_carries_as_extra(json_log: io.StringIO) -> None:
    logging.getLogger("ocop_bot").warning("sending failed", extra={"chat_id": f"x{TOKEN}", "error_id": "ab12cd34"})
    line = json.loads(json_log.getvalue().splitlines()[-1])
    assert line["chat_id"] == "x***" and line["error_id"] == "ab12cd34" and TOKEN not in json_log.getvalue()
