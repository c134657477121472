"""The phone step on Telegram: one message with a reply keyboard (share my number; Skip as a text button), and the
next message to that chat takes the keyboard away. The real PTB channel against the loopback fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers.messages import Button
from handlers.render import Rendered
from models.db import Database
from tests.fake_telegram import Call, FakeTelegram
from tests.loopback import serving
from tests.test_telegram import BUYER, PRODUCER, Running, run_channel

SHARE = "📱 Chia sẻ số điện thoại"
ASK = Rendered("Chia sẻ số điện thoại để nhà sản xuất liên hệ?", buttons=((Button("Bỏ qua", "ph:skip"),),),
               request_contact=SHARE)
REMOVE = {"remove_keyboard": True}


@pytest.fixture
async def polling(sqlite_db: Database) -> AsyncIterator[Running]:
    async with serving(FakeTelegram()) as fake:
        async for running in run_channel(sqlite_db, fake, "polling"):
            yield running


def markup(call: Call) -> dict[str, Any]:
    return call.params.get("reply_markup") or {}


async def test_the_phone_step_is_one_message_with_skip_on_the_reply_keyboard(polling: Running) -> None:
    await polling.channel.send(str(BUYER), [ASK])
    [ask] = polling.fake.sent_to(BUYER)  # no second "⬇️" message carrying the inline buttons
    keyboard = markup(ask)
    assert ask.method == "sendMessage" and ask.text == ASK.text
    assert keyboard["keyboard"] == [[{"text": SHARE, "request_contact": True}], [{"text": "Bỏ qua"}]]
    assert keyboard["one_time_keyboard"] is True and keyboard["resize_keyboard"] is True
    assert "inline_keyboard" not in keyboard


async def test_the_next_message_removes_the_reply_keyboard(polling: Running) -> None:
    channel, fake = polling.channel, polling.fake
    await channel.send(str(BUYER), [ASK])
    await channel.send(str(PRODUCER), [Rendered("Yêu cầu liên hệ mới #1")])  # another chat keeps its markup
    await channel.send(str(BUYER), [Rendered("Đã đăng ký là người mua")])  # what follows Skip, typed as text
    await channel.send(str(BUYER), [Rendered("Tìm thấy 2 sản phẩm")])
    _ask, done, later = fake.sent_to(BUYER)
    assert markup(done) == REMOVE
    assert markup(later) == {}  # removed once
    assert markup(fake.sent_to(PRODUCER)[0]) == {}


async def test_inline_buttons_keep_their_keyboard_and_the_removal_waits(polling: Running) -> None:
    """A message has one markup: a message with inline buttons keeps them; the next one without removes the
    reply keyboard."""
    channel, fake = polling.channel, polling.fake
    await channel.send(str(BUYER), [ASK])
    regions = Rendered("Bạn quan tâm vùng nào?", buttons=((Button("Miền Bắc", "rg:0"), Button("Xong", "rg:done")),))
    await channel.send(str(BUYER), [regions, Rendered("Gõ tên sản phẩm để tìm")])
    _ask, asked, plain = fake.sent_to(BUYER)
    assert [b["text"] for b in asked.buttons] == ["Miền Bắc", "Xong"]
    assert markup(plain) == REMOVE
