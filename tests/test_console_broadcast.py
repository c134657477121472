"""Broadcasts reach console users in their terminal, like any channel's users: the console's lane writes them to
the user's chat in the outbox, every sender runs it (the one each `ocop-bot chat` runs too), and the terminal shows
them."""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import replace

from sqlmodel import select

from bot.broadcast_sender import build_sender
from bot.channel import RecentSends, Shared
from bot.channels import broadcast_channels
from bot.cli import chat
from bot.config import Settings
from bot.console import CHANNEL as CONSOLE
from bot.console import ConsoleChannel
from bot.links import link_signer
from handlers.app import Conversation
from models.broadcasts import Broadcast, Delivery
from models.db import Database
from tests.chat import ChatUser, load_catalogue, make_services, register_buyer
from tests.test_broadcast_sender import finished, running

TEXT = "Hội chợ OCOP khai mạc 8h sáng thứ Bảy."


async def office_sends_to_buyers(office: ChatUser) -> None:
    await office.says("/broadcast")
    await office.says(TEXT)
    await office.presses("Bỏ qua")
    await office.presses("Người mua")
    assert "Số người nhận: 1" in office.seen[-1].text and "console 1" in office.seen[-1].text
    await office.presses("Gửi cho 1 người")
    assert "Đã bắt đầu gửi tin #1 đến 1 người" in office.last


async def test_a_console_buyer_reads_the_broadcast_in_the_terminal(db: Database) -> None:
    await load_catalogue(db)
    services = replace(make_services(db), broadcast_channels=broadcast_channels())
    conversation = Conversation(services)
    office, lan = ChatUser(conversation, "office"), ChatUser(conversation, "lan")
    await register_buyer(lan)
    await office_sends_to_buyers(office)

    shared = Shared(Settings(), conversation, link_signer(Settings().web), RecentSends())
    sender = build_sender(Settings(), db, clock=services.clock, shared=shared, channels=[CONSOLE])
    assert sender is not None and list(sender.lanes) == ["console"]
    async for _ in running(sender):
        await finished(db, 1)
    async with db.session() as session:
        broadcast = (await session.exec(select(Broadcast))).one()
        [delivery] = (await session.exec(select(Delivery))).all()
    assert (broadcast.status, delivery.channel, delivery.external_id, delivery.status) == (
        "done", "console", "lan", "sent")

    terminal = io.StringIO()
    await ConsoleChannel(conversation, "lan", lines=io.StringIO(), out=terminal).deliver_notifications()
    assert f"\n{TEXT}\n" in terminal.getvalue()
    office_terminal = io.StringIO()
    await ConsoleChannel(conversation, "office", lines=io.StringIO(), out=office_terminal).deliver_notifications()
    assert "📢 Tin #1 — đã gửi xong" in office_terminal.getvalue() and "Đã gửi: 1/1" in office_terminal.getvalue()
    assert TEXT not in office_terminal.getvalue()  # the office is no buyer


async def test_two_terminals_no_server(sqlite_db: Database) -> None:
    """`ocop-bot chat` as the office composes a broadcast; the buyer's terminal, opened later, shows it."""
    await load_catalogue(sqlite_db)
    services = replace(make_services(sqlite_db), broadcast_channels=broadcast_channels())
    lan = ChatUser(Conversation(services), "lan")
    await register_buyer(lan)

    read, write = os.pipe()
    typed = os.fdopen(write, "w")
    office_terminal = io.StringIO()
    with os.fdopen(read) as lines:
        console = ConsoleChannel(Conversation(services), "office", lines=lines, out=office_terminal)
        running_chat = asyncio.create_task(chat(Settings(), services, console))
        for line in ("/broadcast", TEXT, "bỏ qua", "Người mua", "Gửi cho 1 người"):
            typed.write(line + "\n")
            typed.flush()
        await finished(sqlite_db, 1)  # the office's own terminal sent it
        typed.close()
        await asyncio.wait_for(running_chat, 15)
    assert "Đã bắt đầu gửi tin #1 đến 1 người" in office_terminal.getvalue()

    terminal = io.StringIO()
    await chat(Settings(), services, ConsoleChannel(Conversation(services), "lan", lines=io.StringIO(), out=terminal))
    assert f"\n{TEXT}\n" in terminal.getvalue()
