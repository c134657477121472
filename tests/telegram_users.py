"""Telegram users for end-to-end tests: they act through the fake Bot API and read what the bot sent them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fake_telegram import Call, FakeTelegram

Deliver = Callable[[dict[str, Any]], Awaitable[Any]]


class TelegramUser:
    def __init__(self, fake: FakeTelegram, user_id: int, deliver: Deliver) -> None:
        self.fake, self.id, self.deliver = fake, user_id, deliver
        self.mark = 0  # messages before this index have been read

    async def says(self, text: str) -> None:
        self.mark = len(self.fake.sent_to(self.id))
        await self.deliver(self.fake.message_update(self.id, text))

    async def shares_phone(self, phone: str) -> None:
        self.mark = len(self.fake.sent_to(self.id))
        await self.deliver(self.fake.contact_update(self.id, phone))

    async def presses(self, label: str) -> None:
        for call in reversed(self.fake.sent_to(self.id)):
            for button in call.buttons:
                if label in button["text"]:
                    await self.taps(button["callback_data"], call.result.get("message_id", 1))
                    return
        raise AssertionError(f"user {self.id} sees no button {label!r}")

    async def taps(self, data: str, message_id: int = 1) -> None:
        self.mark = len(self.fake.sent_to(self.id))
        await self.deliver(self.fake.callback_update(self.id, data, message_id))

    async def expect(self, fragment: str, timeout: float = 10.0) -> Call:
        return await self.fake.wait_for(self.id, fragment, after=self.mark, timeout=timeout)


async def claimed_on_telegram(office: TelegramUser, producer: TelegramUser, record: str, typed: str) -> None:
    """The office issues a claim code for ``record`` (confirming the producer found), and the producer claims it by
    typing ``typed`` and the code."""
    await office.says(f"/claimcode {record}")
    await office.expect("Cấp mã nhận hồ sơ cho chủ thể này")
    await office.presses("Cấp mã")
    code = re.search(r"»: ([A-Z0-9]+)", (await office.expect("Mã nhận hồ sơ")).text)
    assert code
    await producer.says("/start")
    await producer.expect("vai trò nào")
    await producer.presses("chủ thể sản xuất")
    await producer.expect("Gõ tên chủ thể")
    await producer.says(typed)
    await producer.expect("Hồ sơ nào là của bạn")
    await producer.presses(record)
    await producer.expect("Nhập mã")
    await producer.says(code.group(1))


async def registered_on_telegram(buyer: TelegramUser, company: str = "Siêu thị Xanh") -> None:
    """A buyer registers as a supermarket, sharing the phone with Telegram's contact button."""
    await buyer.says("/start")
    await buyer.expect("vai trò nào")
    await buyer.presses("người mua")
    await buyer.expect("Tên doanh nghiệp")
    await buyer.says(company)
    await buyer.expect("thuộc loại nào")
    await buyer.presses("Siêu thị")
    await buyer.expect("Chia sẻ số điện thoại")
    await buyer.shares_phone("+84912345678")
