"""The broadcast lane's pace and its Telegram transport, closer up: a stall made up without a burst, idle time not
made up, retries sent when due rather than after the pass, and the Bot API's answers sorted as the sender needs."""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.broadcast_sender import BroadcastSender, SendRate
from bot.broadcast_transports import TelegramTransport, _result
from bot.retry import ChannelUnavailable, RecipientBlocked, SendFailed, Throttled, TryLater
from models.db import Database
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.loopback import serving
from tests.test_broadcast_sender import FIRST, broadcast, finished, people, running, sends, settings, telegram_lane


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with serving(FakeTelegram()) as server:
        yield server


async def _send_times(rate: SendRate, count: int, *, stall_after: float | None = None) -> list[float]:
    """``count`` sends all waiting on ``rate`` at once (as the lane's sends in flight do); the event loop blocked
    for 150 ms ``stall_after`` seconds in, as a garbage collection blocks it."""
    times: list[float] = []

    async def one() -> None:
        await rate.take()
        times.append(time.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    if stall_after is not None:
        await asyncio.sleep(stall_after)
        time.sleep(0.15)  # blocking on purpose: nothing runs meanwhile
    await asyncio.gather(*tasks)
    return sorted(times)


def _most_within(times: list[float], seconds: float) -> int:
    return max(bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times))


async def test_a_stall_is_made_up_within_the_ceiling_and_without_a_burst() -> None:
    rate = SendRate(200)  # ceiling 206 a second; making up at 300 a second at most
    times = await _send_times(rate, 500, stall_after=0.3)
    assert rate.ceiling == 206
    assert _most_within(times, 1.0) <= rate.ceiling + 1  # a send may go up to a timer's slack after it was due
    assert _most_within(times, 0.05) <= 0.05 * 300 + 2  # the sends held up by the stall did not go all at once
    assert times[-1] - times[0] < 499 / 200 + 0.1  # the 150 ms lost were made up


async def test_idle_time_is_not_made_up() -> None:
    rate = SendRate(100)
    await rate.take()
    await asyncio.sleep(0.3)  # nothing to send for a while
    times = await _send_times(rate, 10)
    assert times[-1] - times[0] >= 9 / 100 * 0.9  # evenly spaced again, no burst for the idle time


def test_the_ceiling_is_never_below_even_spacing() -> None:
    assert SendRate(950).ceiling == 978
    assert SendRate(29).ceiling == 29
    assert SendRate(12.5).ceiling == 13  # 0, 80, …, 960 ms: thirteen within one second


async def test_a_429_is_retried_when_due_while_the_pass_goes_on(sqlite_db: Database, fake: FakeTelegram) -> None:
    await people(sqlite_db, 60)
    fake.throttle_chat[FIRST] = [1]
    number = await broadcast(sqlite_db)
    sender = BroadcastSender(sqlite_db, [telegram_lane(fake, rate=25)], settings(), poll_seconds=0.05)
    async for _ in running(sender):
        await finished(sqlite_db, number)
    refused = next(c.at for c in fake.calls if c.method == "sendMessage!429")
    retried = next(c.at for c in sends(fake) if c.chat_id == FIRST)
    assert 1.0 <= retried - refused < 2.0  # retry_after honoured (a loaded machine adds a few hundred ms)
    assert retried < max(c.at for c in sends(fake))  # the pass (2.4 s) was still going on
    assert sorted(c.chat_id for c in sends(fake)) == list(range(FIRST, FIRST + 60))


async def test_the_bot_api_answers_are_sorted(fake: FakeTelegram) -> None:
    transport = TelegramTransport(TOKEN, fake.base_url, paid=True, timeout=0.5, connections=4)
    await transport.start()
    try:
        assert int(await transport.send("501", "Xin chào & hẹn gặp")) > 0
        call = fake.sent_to(501)[0]
        assert (call.text, call.params["allow_paid_broadcast"]) == ("Xin chào & hẹn gặp", "true")
        fake.throttle_chat[502] = [7]
        with pytest.raises(Throttled) as throttled:
            await transport.send("502", "x")
        assert throttled.value.retry_after == 7
        fake.blocked.add(503)
        with pytest.raises(RecipientBlocked):
            await transport.send("503", "x")
        fake.stall_chat[504] = [0.05]
        with pytest.raises(TryLater, match="504"):  # a server error: may be tried again
            await transport.send("504", "x")
        fake.stall_chat[505] = [1.0]
        with pytest.raises(TryLater, match="TimedOut"):
            await transport.send("505", "x")
        await transport.send("507", "dài " * 400, photo="https://ocop.example.vn/a.jpg")
        preview = json.loads(fake.sent_to(507)[0].params["link_preview_options"])
        assert preview == {"url": "https://ocop.example.vn/a.jpg", "prefer_large_media": True, "show_above_text": True}
    finally:
        await transport.stop()
    wrong = TelegramTransport("1:WRONG", fake.base_url, paid=False, timeout=0.5, connections=1)
    await wrong.http.initialize()
    try:
        with pytest.raises(ChannelUnavailable):
            await wrong.send("501", "x")
    finally:
        await wrong.http.shutdown()


@pytest.mark.parametrize(
    ("status", "answer", "raised"),
    [
        (400, {"description": "Bad Request: chat not found"}, SendFailed),
        (400, {"description": "Bad Request: group chat was upgraded", "parameters": {"migrate_to_chat_id": -100}},
         SendFailed),
        (429, {"description": "Too Many Requests", "parameters": {"retry_after": 3}}, Throttled),
        (403, {"description": "Forbidden: bot was blocked by the user"}, RecipientBlocked),
        (401, {"description": "Unauthorized"}, ChannelUnavailable),
        (502, {"description": "Bad Gateway"}, TryLater),
        (502, None, TryLater),  # not a Bot API answer (a proxy's page)
    ],
)
def test_errors_are_sorted_as_the_sender_needs(status: int, answer: dict | None, raised: type) -> None:  # type: ignore[type-arg]
    body = b"<html>Bad Gateway</html>" if answer is None else json.dumps({"ok": False, "error_code": status, **answer}).encode()
    with pytest.raises(raised):
        _result(status, body)
