"""The Zalo OA channel as Zalo documents it (docs/ZALO.md): the webhook answers 200 to what is not Zalo's and 503
only for an event it could not store, buttons Zalo refuses become numbered options, only an explicit refusal of the
token endpoint stops the channel, configuration errors tell the admins, pictures we send keep their links, and the
tokens Zalo hands out never reach the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from bot.config import Settings
from bot.retry import RecipientUnreachable, Throttled
from bot.zalo_base import ZaloApiError
from bot.zalo_oa import oa_outcome
from handlers.app import Conversation
from handlers.context import Services
from models.clock import FakeClock
from models.db import Database
from models.inbox import InboundUpdate
from models.notifications import Notification
from models.outbox import OutboundMessage
from models.zalo import ZaloToken
from tests.chat import ChatUser, load_catalogue, make_services
from tests.fake_zalo import APP_ID, FakeZaloOA, wait_until
from tests.loopback import serving
from tests.zalo_users import OAUser, zalo_oa


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloOA]:
    async with serving(FakeZaloOA()) as server:
        yield server


@pytest.fixture
async def services(sqlite_db: Database) -> Services:
    await load_catalogue(sqlite_db)
    return make_services(sqlite_db)


async def test_without_a_webhook_key_the_channel_runs_and_ignores_events(
    fake: FakeZaloOA, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """The OA Secret Key is shown only once the URL is saved: the bot starts without it, passes the URL check, and
    ignores (200) signed events until the key is configured."""
    with caplog.at_level(logging.INFO, logger="bot.zalo_oa"):
        async with zalo_oa(services, fake, webhook_key=None) as run:
            assert run.channel.connected.is_set() and not run.channel.refused.is_set()
            assert fake.webhook_url == run.hook  # saved: the unsigned check got 200
            assert await fake.push(run.hook, fake.text("3001", "gao st25")) == 200
            assert await fake.push(run.hook, fake.text("3001", "che tan cuong")) == 200
            assert run.channel.dropped == {"unsigned": 1, "no_key": 2}
            status, body = await run.get(run.base + "/healthz")
            assert status == 200 and json.loads(body)["zalo_oa"]["webhook_key"] is False
    async with services.db.session() as session:
        assert (await session.exec(select(InboundUpdate))).all() == []
    assert "events are ignored: zalo.oa.webhook_key is not set" in caplog.text
    assert "Zalo checks a new webhook URL this way" in caplog.text
    assert sum("an event was ignored" in r.getMessage() for r in caplog.records) == 1  # once, not per event


async def test_an_event_not_stored_gets_503_and_zalos_retry_brings_it_again(
    fake: FakeZaloOA, services: Services
) -> None:
    async with zalo_oa(services, fake) as run:
        store = run.channel.receive
        failures = [OSError("database unreachable")]

        async def flaky(updates: list) -> None:  # type: ignore[type-arg]
            if failures:
                raise failures.pop()
            await store(updates)

        run.channel.receive = flaky  # type: ignore[method-assign]
        fake.time_scale = 0.001  # 30 s → 30 ms
        event = fake.text("3001", "gao st25")
        assert await fake.deliver(event) == 200
        assert [status for _key, status in fake.deliveries[-2:]] == [503, 200] and not fake.webhook_unreachable
        await wait_until(lambda: bool(fake.texts("3001")), what="the reply")
        await run.channel.idle()
        assert len(fake.texts("3001")) == 1 and "Gạo ST25" in fake.texts("3001")[0]


async def test_refused_buttons_become_numbered_options_for_good(fake: FakeZaloOA, services: Services) -> None:
    fake.refuses_buttons = True
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/start")
        texts = fake.texts("3001")
        assert "Bạn tham gia với vai trò nào?" in texts[-2]
        assert "1. Tôi là người mua (siêu thị, nhà phân phối…)\n2. Tôi là chủ thể sản xuất OCOP" in texts[-1]
        refused = [c for c in fake.calls if c.method == "message/cs" and c.error]
        assert len(refused) == 1 and refused[0].buttons  # tried once with buttons, then as text
        await user.says("1")  # the number picks the option, as on a channel without buttons
        assert "Tên doanh nghiệp" in user.last
        await user.says("Siêu thị Xanh")
        assert "1. Siêu thị" in user.last  # rendered numbered from now on: no second refusal
        assert len([c for c in fake.calls if c.method == "message/cs" and c.error]) == 1
        status, body = await run.get(run.base + "/healthz")
        assert status == 200 and json.loads(body)["zalo_oa"]["buttons"] is False
    async with services.db.session() as session:
        row = await session.get(ZaloToken, APP_ID)
        assert row is not None and row.numbered_options_since is not None

    fake.refuses_buttons = False  # a restart (or another replica) knows it from the database
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3002")
        await user.says("/start")
        assert "2. Tôi là chủ thể sản xuất OCOP" in user.last
        assert not any(c.buttons for c in fake.calls if c.method == "message/cs" and c.chat_id == "3002")


async def test_a_502_or_an_answer_without_tokens_is_retried_and_the_channel_keeps_running(
    fake: FakeZaloOA, services: Services
) -> None:
    """A failed refresh does not spend the refresh token: only Zalo's own error answer is a refusal."""
    fake.token_answers = [(502, "<html><body>502 Bad Gateway</body></html>"), (200, "{}"),
                          (200, '{"message": "busy"}'), (503, '{"error": -14001}')]
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        await user.says("/help")
        assert "Xin chào!" in user.last and not run.channel.refused.is_set()
        assert fake.count("access_token") == 5 and fake.refreshes == 1
    refreshes = {outcome: services.metrics.registry.get_sample_value(
        "ocop_token_refreshes_total", {"platform": "zalo_oa", "outcome": outcome}) for outcome in ("failed", "refreshed")}
    assert refreshes == {"failed": 4, "refreshed": 1}  # /metrics counts them


async def test_configuration_errors_stop_the_channel_and_tell_the_admins(
    fake: FakeZaloOA, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    office = ChatUser(Conversation(services), "office")
    await office.says("/help")  # the office's admin, on the console
    async with zalo_oa(services, fake) as run:
        user = OAUser(run, fake, "3001")
        fake.failures.append(-223)  # the app is not authorised for this API
        with caplog.at_level(logging.ERROR):
            await run.channel.outbox.drained()
            await fake.push(run.hook, fake.text("3001", "/help"))
            await wait_until(lambda: run.channel.refused.is_set(), what="the channel stopped")
            await wait_until(run.task.done, what="the channel's run ended")
        assert "not authorised for this API" in caplog.text and user.texts() == []
    async with services.db.session() as session:
        told = (await session.exec(select(Notification))).all()
        kept = (await session.exec(select(OutboundMessage).where(col(OutboundMessage.sent_at).is_(None)))).all()
    assert len(told) == 1 and "Kênh Zalo OA đã dừng" in told[0].payload["text"]
    assert "not authorised for this API" in told[0].payload["text"]
    assert len(kept) == 1 and kept[0].given_up == ""  # the reply waits for the channel to run again


@pytest.mark.parametrize("code", [-227, -232, -244, -230, -213])
async def test_unreachable_users_are_codes_not_failures(code: int) -> None:
    assert isinstance(oa_outcome(ZaloApiError("message/cs", code, "", "r1")), RecipientUnreachable)


def test_the_rate_limit_waits_for_the_next_minute() -> None:
    """-32: 4,000 requests a minute, counted again each minute: wait until it starts (plus a second)."""
    outcome = oa_outcome(ZaloApiError("message/cs", -32, "", "r1"), datetime(2026, 11, 30, 9, 0, 15, tzinfo=UTC))
    assert isinstance(outcome, Throttled) and outcome.retry_after == 46.0


async def test_pictures_we_send_keep_their_links(fake: FakeZaloOA, services: Services) -> None:
    """A chart sent as a photo is fetched by Zalo from our server, maybe again when an old chat is opened: its link
    does not expire with the 72-hour download links."""
    clock = FakeClock()
    services = replace(services, clock=clock, admin_ids={**services.admin_ids, "zalo_oa": frozenset({"9001"})})
    async with zalo_oa(services, fake) as run:
        admin = OAUser(run, fake, "9001")
        await admin.says("/stats")
        media = next(c for c in fake.sent("9001") if c.template == "media")
        url = media.body["message"]["attachment"]["payload"]["elements"][0]["url"]
        assert "/photos/" in url and "exp=" not in url
        clock.advance(days=30)
        status, data = await run.get(url)
        assert status == 200 and data[:4] == b"\x89PNG"
        assert (await run.get(url.replace("sig=", "sig=0")))[0] == 403


async def test_tokens_zalo_hands_out_never_reach_the_debug_log(
    fake: FakeZaloOA, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """The database driver logs its statements at DEBUG: never with their parameters, so a rotated token (long
    enough to be cut in the middle by SQLAlchemy's log) does not appear, not even in part."""
    fake.token_length = 420
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        async with zalo_oa(services, fake) as run:
            await OAUser(run, fake, "3001").says("/help")
    async with services.db.session() as session:
        row = await session.get(ZaloToken, APP_ID)
    assert row is not None and len(row.access_token) == 420
    assert "UPDATE zalo_token" in caplog.text
    for token in (row.access_token, row.refresh_token):
        assert token[:40] not in caplog.text and token[-40:] not in caplog.text


def test_the_webhook_key_is_not_required_to_start() -> None:
    settings = Settings.model_validate({"zalo": {"oa": {"refresh_token": "r", "app_id": "1", "app_secret": "s" * 32}},
                                        "web": {"secret": "kQ3v9LmZ2xTb7RwY5nHc8JdF4gSe6PaU", "public_url": "https://ocop.example.vn"}})
    assert settings.missing() == []  # the webhook key may come later
