"""Two `ocop-bot serve` processes on one PostgreSQL database behind one webhook, the updates of each chat split
between them as a load balancer splits them: every chat is answered in order, no sign-up step is lost, nothing is
answered twice, and a new user writing to both at once is one user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from handlers.actions import Answer
from models.db import Database
from models.inbox import InboundUpdate
from models.people import BuyerProfile, Identity, User
from tests.conftest import own_postgres_database
from tests.fake_telegram import TOKEN, FakeTelegram, post_webhook
from tests.fake_zalo import wait_until
from tests.loopback import ServeProcess, serving

SECRET = "replicas-secret-0123456789"
BUYERS = 20
STEPS = ("vai trò nào", "Tên doanh nghiệp", "thuộc loại nào", "Chia sẻ số điện thoại", "đã được đăng ký là người mua")


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A PostgreSQL database of its own (the processes connect with a plain URL)."""
    async with own_postgres_database("ocop_replicas") as url:
        yield url


def settings(fake: FakeTelegram, url: str) -> dict[str, str]:
    return {
        "OCOP_BOT__DATABASE__URL": url,
        "OCOP_BOT__TELEGRAM__TOKEN": TOKEN,
        "OCOP_BOT__TELEGRAM__BASE_URL": fake.base_url,
        "OCOP_BOT__TELEGRAM__MODE": "webhook",
        "OCOP_BOT__TELEGRAM__WEBHOOK_SECRET": SECRET,
        "OCOP_BOT__TELEGRAM__WEBHOOK_URL": "https://ocop.example.vn/telegram/webhook",
    }


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [call.text for call in fake.sent_to(chat)]


async def sign_up(fake: FakeTelegram, hooks: list[str], user: int) -> None:
    """Five moves, each posted as soon as the one before was acknowledged, to the replicas in turn."""
    moves = [
        fake.message_update(user, "/start"),
        fake.callback_update(user, Answer("onboard", "role", "buyer").encode()),
        fake.message_update(user, f"Công ty {user}"),
        fake.callback_update(user, Answer("onboard", "kind", "exporter").encode()),
        fake.message_update(user, f"0912 {user:06d}"),
    ]
    for number, move in enumerate(moves):
        assert await post_webhook(hooks[(number + user) % 2], move, SECRET) == 200


async def test_two_replicas_keep_each_chat_in_order(
    tmp_path: Path, unused_tcp_port_factory, database: str  # type: ignore[no-untyped-def]
) -> None:
    async with serving(FakeTelegram()) as fake:
        replicas = [ServeProcess(tmp_path, unused_tcp_port_factory(), settings(fake, database), name=f"replica{n}")
                    for n in (1, 2)]
        hooks = []
        for replica in replicas:  # one after the other: the first migrates the database and loads the sample
            hooks.append(f"{(await replica.start()).base}/telegram/webhook")
        try:
            buyers = list(range(7001, 7001 + BUYERS))
            await asyncio.gather(*(sign_up(fake, hooks, user) for user in buyers))

            newcomers = list(range(8001, 8031))  # a new user's two messages, one to each replica at once
            pairs = [(fake.message_update(user, "mat ong"), fake.message_update(user, "che thai nguyen"))
                     for user in newcomers]
            statuses = await asyncio.gather(*(post_webhook(hook, update, SECRET) for first, second in pairs
                                              for hook, update in zip(hooks, (first, second), strict=True)))
            assert set(statuses) == {200}

            repeated = [fake.message_update(user, "/help") for user in range(9001, 9031)]  # both get each one
            statuses = await asyncio.gather(*(post_webhook(hook, update, SECRET) for update in repeated
                                              for hook in hooks))
            assert set(statuses) == {200}

            await wait_until(lambda: all(STEPS[-1] in "".join(texts(fake, user)) for user in buyers)
                             and all(len(fake.sent_to(user)) >= 2 for user in newcomers)
                             and all(fake.sent_to(user) for user in range(9001, 9031)),
                             timeout=60, what="every chat answered")
            db = Database(database)
            try:
                await wait_until_handled(db)
                async with db.session() as session:
                    profiles = {p.user_id: p for p in (await session.exec(select(BuyerProfile))).all()}
                    people = (await session.exec(select(User, Identity).join(Identity))).all()
            finally:
                await db.dispose()
        finally:
            served = [await replica.stop() for replica in replicas]

    for user in buyers:  # in order, each step once, the sign-up complete
        got = texts(fake, user)
        places = [next((i for i, text in enumerate(got) if step in text), -1) for step in STEPS]
        assert places == sorted(places) and -1 not in places, (user, got)
        assert all(sum(step in text for text in got) == 1 for step in STEPS), (user, got)
    users_of = {int(identity.external_id): user for user, identity in people}
    registered = [profiles[users_of[user].id] for user in buyers]
    assert [(p.company, p.kind) for p in registered] == [(f"Công ty {user}", "exporter") for user in buyers]
    assert all(users_of[user].phone.endswith(f"{user:06d}") for user in buyers)
    assert len([u for u in users_of if u in newcomers]) == len(newcomers)  # one user each, no duplicate key
    assert all(len(fake.sent_to(user)) == 2 for user in newcomers)  # both messages answered, once each
    assert all(len(fake.sent_to(user)) == 1 for user in range(9001, 9031))  # delivered twice, answered once
    assert not any("Xin lỗi" in call.text for call in fake.calls)
    for replica in served:
        assert replica.returncode == 0, replica.err
        assert "Traceback" not in replica.err and "duplicate key" not in replica.err


async def wait_until_handled(db: Database, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with db.session() as session:
            waiting = (await session.exec(select(InboundUpdate).where(InboundUpdate.handled_at == None))).all()  # noqa: E711
        if not waiting:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{len(waiting)} updates still waiting")
        await asyncio.sleep(0.05)
