"""The inbox and the outbox as tables: de-duplication, order, leases, retention (both databases)."""

from __future__ import annotations

from datetime import timedelta

from models import inbox, outbox
from models.db import Database, utcnow
from models.inbox import Received

NOW = utcnow()


async def test_an_update_is_stored_once_and_waits_in_order(db: Database) -> None:
    first = await inbox.receive(db, "telegram", [Received("1", "c1", {"n": 1}), Received("2", "c2", {"n": 2}),
                                                 Received("1", "c1", {"n": 1})], NOW)  # one delivered twice at once
    assert [(w.update_key, w.chat_id) for w in first] == [("1", "c1"), ("2", "c2")]
    again = await inbox.receive(db, "telegram", [Received("1", "c1", {"n": 1}), Received("3", "c1", {"n": 3})], NOW)
    assert [w.update_key for w in again] == ["3"]  # the redelivery is not new
    async with db.session() as session:
        assert await inbox.waiting_chats(session, "telegram") == ["c1", "c2"]
        waiting = await inbox.next_update(session, "telegram", "c1")
    assert waiting is not None and waiting.payload == {"n": 1}
    await inbox.mark_handled(db, waiting.id, NOW)
    async with db.session() as session:
        assert (await inbox.next_update(session, "telegram", "c1")).update_key == "3"  # type: ignore[union-attr]
        assert await inbox.backlog(session) == 2


async def test_a_failing_update_is_given_up_after_its_attempts(db: Database) -> None:
    [waiting] = await inbox.receive(db, "zalo_bot", [Received("k", "c", {})], NOW)
    await inbox.record_failure(db, waiting.id, "boom", give_up=False, now=NOW)
    async with db.session() as session:
        assert (await inbox.next_update(session, "zalo_bot", "c")).attempts == 1  # type: ignore[union-attr]
    await inbox.record_failure(db, waiting.id, "boom", give_up=True, now=NOW)
    async with db.session() as session:
        assert await inbox.next_update(session, "zalo_bot", "c") is None


async def test_handled_updates_and_sent_messages_are_forgotten_after_a_week(db: Database) -> None:
    old, recent = await inbox.receive(db, "telegram", [Received("1", "c", {}), Received("2", "c", {})], NOW)
    await inbox.mark_handled(db, old.id, NOW - timedelta(days=8))
    await inbox.mark_handled(db, recent.id, NOW - timedelta(days=1))
    async with db.transaction() as session:
        sent = await outbox.add(session, "telegram", "c", {"text": "a"}, now=NOW - timedelta(days=9))
        kept = await outbox.add(session, "telegram", "c", {"text": "b"}, now=NOW - timedelta(days=9))
    await outbox.mark_sent(db, [sent], NOW - timedelta(days=8))
    async with db.transaction() as session:
        assert await inbox.forget_handled(session, NOW) == 1
        assert await outbox.forget_done(session, NOW) == 1  # the unsent one stays, however old
    async with db.session() as session:
        assert [m.id for m in await outbox.next_messages(session, "telegram", "c")] == [kept]
        assert await outbox.backlog(session) == 1


async def test_one_sender_per_chat_until_its_lease_lapses(db: Database) -> None:
    assert await outbox.take_lease(db, "telegram", "c", "replica-a", NOW)
    assert await outbox.take_lease(db, "telegram", "c", "replica-a", NOW)  # renewed
    assert not await outbox.take_lease(db, "telegram", "c", "replica-b", NOW + timedelta(seconds=5))
    assert await outbox.take_lease(db, "telegram", "d", "replica-b", NOW)  # another chat is free
    assert await outbox.take_lease(db, "telegram", "c", "replica-b", NOW + outbox.LEASE + timedelta(seconds=1))
    await outbox.release_lease(db, "telegram", "c", "replica-a")  # no longer its: nothing happens
    assert not await outbox.take_lease(db, "telegram", "c", "replica-a", NOW + outbox.LEASE + timedelta(seconds=2))
    await outbox.release_lease(db, "telegram", "c", "replica-b")
    assert await outbox.take_lease(db, "telegram", "c", "replica-a", NOW + outbox.LEASE + timedelta(seconds=2))


async def test_messages_go_in_order_and_a_chat_can_be_given_up(db: Database) -> None:
    async with db.transaction() as session:
        for text in "abc":
            await outbox.add(session, "zalo_oa", "u", {"text": text}, now=NOW)
        await outbox.add(session, "zalo_oa", "v", {"text": "x"}, now=NOW)
    async with db.session() as session:
        first, second, third = await outbox.next_messages(session, "zalo_oa", "u")
        assert [m.body["text"] for m in (first, second, third)] == ["a", "b", "c"]
        assert await outbox.due_chats(session, "zalo_oa", NOW) == ["u", "v"]
    await outbox.retry_later(db, first.id, NOW + timedelta(minutes=1), "429")
    async with db.session() as session:
        assert await outbox.due_chats(session, "zalo_oa", NOW) == ["v"]  # u waits for its first message's time
        waiting = (await outbox.next_messages(session, "zalo_oa", "u", skip=[second.id]))
        assert [(m.body["text"], m.attempts) for m in waiting] == [("a", 1), ("c", 0)]
    async with db.transaction() as session:
        assert await outbox.give_up(session, "zalo_oa", "u", "blocked") == 3
    async with db.session() as session:
        assert await outbox.next_messages(session, "zalo_oa", "u") == []
