"""Broadcasts: one message from the office to an audience, kept as a durable outbox of deliveries.

A Broadcast and one Delivery per recipient identity are written in one transaction. The sender worker
(bot/broadcast_sender.py) drains the pending deliveries and records each outcome; a delivery whose outcome was not
recorded is still pending, so after a crash it is sent again: nobody is lost, and only the sends in flight at the
moment of the crash can reach someone twice. One sender drains at a time (``sender_lock``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, and_, func, insert, or_, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography, parse
from models.admin import require_admin
from models.audit import record
from models.catalog import Producer
from models.db import Database, UTCDateTime, utcnow
from models.errors import Stale, StaleAction
from models.events import Registration
from models.people import BuyerProfile, Identity, Role, User

MAX_TEXT = 2000  # the longest text every broadcast channel takes in one message (Zalo: 2000)
MAX_PHOTO_URL = 500
MAX_ERROR = 300
BULK = {"synchronize_session": False}  # bulk UPDATEs touch rows no session here holds: skip ORM bookkeeping


class BroadcastStatus(StrEnum):
    SENDING = "sending"  # deliveries are pending (or a sender is still to pick them up)
    DONE = "done"  # every delivery has an outcome
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused by the platform, or out of retries
    BLOCKED = "blocked"  # the user blocked the bot
    CANCELLED = "cancelled"  # the broadcast was cancelled before it was sent


class Broadcast(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_by: int = Field(foreign_key="app_user.id")
    admin_channel: str = Field(max_length=20)  # where the admin composed it: progress is reported there
    admin_chat_id: str = Field(max_length=100)
    text: str = Field(max_length=4096)
    photo: str = Field(default="", max_length=MAX_PHOTO_URL)  # an image URL, or ""
    audience: str = Field(max_length=200)  # Audience.key
    status: str = Field(default=BroadcastStatus.SENDING.value, max_length=20, index=True)
    total: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # How the admin was told: the message edited as it goes (channels that edit), or the last share of the
    # deliveries reported in a fresh message (percent; -1 = not yet); final_reported once the end was told.
    progress_message_id: str = Field(default="", max_length=100)
    progress_reported: int = -1
    final_reported: bool = False


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("broadcast_id", "channel", "external_id", name="uq_delivery_recipient"),
        Index("ix_delivery_queue", "channel", "status", "id"),
        Index("ix_delivery_broadcast_status", "broadcast_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id")
    user_id: int = Field(foreign_key="app_user.id")
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=100)  # the chat to send to
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=20)
    attempts: int = 0  # failed attempts (network errors); waits asked by the platform (429) are not counted
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str = Field(default="", max_length=MAX_ERROR)


# -- audiences --------------------------------------------------------------------------------------------------


class AudienceKind(StrEnum):
    ALL = "all"
    BUYERS = "buyers"
    PRODUCERS = "producers"
    PLACE = "place"  # producers located there and buyers interested in its region(s)
    EVENT = "event"  # registrants of an event
    LANGUAGE = "lang"


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to; ``value`` is "<place kind>:<name>" for places, the event id, or a language."""

    kind: AudienceKind
    value: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.value}" if self.value else self.kind.value

    @classmethod
    def parse(cls, key: str) -> Audience:
        kind, _, value = key.partition(":")
        return cls(AudienceKind(kind), value)

    @classmethod
    def of_place(cls, place: geography.Place) -> Audience:
        return cls(AudienceKind.PLACE, f"{place.kind.value}:{place.name}")

    @property
    def place(self) -> geography.Place:
        kind, _, name = self.value.partition(":")
        for place in geography.resolve(name).candidates:
            if place.kind.value == kind and place.name == name:
                return place
        raise StaleAction(f"unknown place {self.value!r}", Stale.GONE)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    role: str
    channel: str
    external_id: str


@dataclass(frozen=True)
class AudienceCount:
    total: int
    by_channel: dict[str, int]
    by_role: dict[str, int]


async def recipients(session: AsyncSession, audience: Audience, channels: Sequence[str]) -> list[Recipient]:
    """Every identity the audience reaches on ``channels``, users who blocked the bot left out, in user order."""
    query = (
        select(User.id, User.role, Identity.channel, Identity.external_id)
        .join(Identity, col(Identity.user_id) == User.id)
        .where(col(User.blocked).is_(False), col(Identity.channel).in_(channels))
        .order_by(col(User.id), col(Identity.channel), col(Identity.external_id))
    )
    kind = audience.kind
    if kind is AudienceKind.BUYERS:
        query = query.where(User.role == Role.BUYER.value)
    elif kind is AudienceKind.PRODUCERS:
        query = query.where(User.role == Role.PRODUCER.value, col(User.producer_id).is_not(None))
    elif kind is AudienceKind.LANGUAGE:
        query = query.where(User.language == audience.value)
    elif kind is AudienceKind.EVENT:
        event_id = parse.canonical(audience.value) or 0
        query = query.join(Registration, col(Registration.user_id) == User.id).where(
            Registration.event_id == event_id
        )
    elif kind is AudienceKind.PLACE:
        return await _place_recipients(session, audience.place, query)
    return [Recipient(*row) for row in (await session.exec(query)).all()]


async def _place_recipients(session: AsyncSession, place: geography.Place, query: Any) -> list[Recipient]:
    """Producers located in the place, and buyers who named one of its regions among their interests."""
    if place.kind is geography.PlaceKind.OLD_PROVINCE:
        located = col(Producer.old_province).in_(place.old_provinces)
    else:
        located = col(Producer.province).in_(place.provinces)
    producers = query.join(Producer, col(Producer.id) == User.producer_id).where(
        User.role == Role.PRODUCER.value, located
    )
    regions = {geography.region_of(unit) for unit in place.provinces}
    buyers = (
        query.join(BuyerProfile, col(BuyerProfile.user_id) == User.id)
        .where(User.role == Role.BUYER.value)
        .add_columns(BuyerProfile.regions)
    )
    found = [Recipient(*row) for row in (await session.exec(producers)).all()]
    found += [Recipient(*row[:4]) for row in (await session.exec(buyers)).all() if regions & set(row[4] or ())]
    return sorted(found, key=lambda r: (r.user_id, r.channel, r.external_id))


def count_of(found: Iterable[Recipient]) -> AudienceCount:
    found = list(found)
    return AudienceCount(
        total=len(found),
        by_channel=dict(Counter(r.channel for r in found)),
        by_role=dict(Counter(r.role for r in found)),
    )


# -- composing --------------------------------------------------------------------------------------------------


async def create_broadcast(
    session: AsyncSession,
    admin: User,
    *,
    channel: str,
    chat_id: str,
    text: str,
    photo: str,
    audience: Audience,
    channels: Sequence[str],
    now: datetime,
) -> Broadcast:
    """The Broadcast and one pending Delivery per recipient on ``channels``, in the session's transaction (audited)."""
    require_admin(admin)
    found = await recipients(session, audience, channels)
    if not found:
        raise StaleAction("nobody to send to", Stale.GONE)
    assert admin.id is not None
    broadcast = Broadcast(
        created_by=admin.id, admin_channel=channel, admin_chat_id=chat_id, text=text, photo=photo,
        audience=audience.key, total=len(found), created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    rows = [
        {
            "broadcast_id": broadcast.id, "user_id": r.user_id, "channel": r.channel, "external_id": r.external_id,
            "status": DeliveryStatus.PENDING.value, "attempts": 0, "last_error": "",
        }
        for r in found
    ]
    await session.exec(insert(Delivery), params=rows)  # type: ignore[call-overload]
    record(session, admin.id, "broadcast.send", f"broadcast:{broadcast.id}", now, f"{audience.key} → {len(found)}")
    return broadcast


async def cancel_broadcast(session: AsyncSession, admin: User, broadcast_id: int, now: datetime) -> Broadcast:
    """Stop a broadcast: what was not sent yet is cancelled (sends already in flight still complete)."""
    require_admin(admin)
    broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is None or broadcast.status != BroadcastStatus.SENDING.value:
        raise StaleAction(f"broadcast {broadcast_id} is not being sent", Stale.ANSWERED)
    broadcast.status = BroadcastStatus.CANCELLED.value
    broadcast.finished_at = now
    await session.exec(  # type: ignore[call-overload]
        update(Delivery)
        .where(col(Delivery.broadcast_id) == broadcast_id, col(Delivery.status) == DeliveryStatus.PENDING.value)
        .values(status=DeliveryStatus.CANCELLED.value)
        .execution_options(**BULK)
    )
    record(session, admin.id, "broadcast.cancel", f"broadcast:{broadcast_id}", now)
    return broadcast


# -- progress ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: str
    total: int
    sent: int
    failed: int
    blocked: int
    cancelled: int
    remaining: int
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.blocked

    @property
    def percent(self) -> int:
        return 100 if not self.total else (self.handled + self.cancelled) * 100 // self.total

    def eta(self, now: datetime) -> timedelta | None:
        """Time left at the pace so far; None before there is a pace, or when nothing is left."""
        if not self.remaining or not self.handled or self.started_at is None:
            return None
        elapsed = (now - self.started_at).total_seconds()
        if elapsed <= 0:
            return None
        return timedelta(seconds=self.remaining * elapsed / self.handled)


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    query = (
        select(Delivery.status, func.count())
        .where(Delivery.broadcast_id == broadcast.id)
        .group_by(col(Delivery.status))
    )
    counts: dict[str, int] = {status: int(n) for status, n in (await session.exec(query)).all()}
    return Progress(
        broadcast_id=broadcast.id or 0,
        status=broadcast.status,
        total=broadcast.total,
        sent=counts.get(DeliveryStatus.SENT.value, 0),
        failed=counts.get(DeliveryStatus.FAILED.value, 0),
        blocked=counts.get(DeliveryStatus.BLOCKED.value, 0),
        cancelled=counts.get(DeliveryStatus.CANCELLED.value, 0),
        remaining=counts.get(DeliveryStatus.PENDING.value, 0),
        started_at=broadcast.started_at,
        finished_at=broadcast.finished_at,
    )


async def sending_progress(session: AsyncSession) -> tuple[int, dict[str, int]]:
    """The broadcasts being sent, and their recipients by delivery status (for /metrics: the broadcasts' status
    index, then one count a broadcast on the deliveries' (broadcast, status) index)."""
    sending = select(Broadcast.id).where(col(Broadcast.status) == BroadcastStatus.SENDING.value)
    ids = [int(found) for found in (await session.exec(sending)).all() if found is not None]
    counts = {status.value: 0 for status in DeliveryStatus}
    for broadcast_id in ids:
        query = (select(Delivery.status, func.count()).where(Delivery.broadcast_id == broadcast_id)
                 .group_by(col(Delivery.status)))
        for status, n in (await session.exec(query)).all():
            counts[status] = counts.get(status, 0) + int(n)
    return len(ids), counts


async def get_broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast:
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise StaleAction(f"no broadcast {broadcast_id}", Stale.GONE)
    return broadcast


async def active_broadcasts(session: AsyncSession) -> list[Broadcast]:
    query = select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING.value).order_by(col(Broadcast.id))
    return list((await session.exec(query)).all())


async def recent_broadcasts(session: AsyncSession, limit: int = 5) -> list[Broadcast]:
    """Those being sent, then the latest finished ones, newest first."""
    query = select(Broadcast).order_by(
        (col(Broadcast.status) == BroadcastStatus.SENDING.value).desc(), col(Broadcast.id).desc()
    )
    return list((await session.exec(query.limit(limit))).all())


async def to_report(session: AsyncSession) -> list[Broadcast]:
    """Broadcasts whose admin still has something to learn: running ones, and finished ones not yet told."""
    query = (
        select(Broadcast)
        .where(or_(Broadcast.status == BroadcastStatus.SENDING.value, col(Broadcast.final_reported).is_(False)))
        .order_by(col(Broadcast.id))
    )
    return list((await session.exec(query)).all())


# -- sending (the worker's side) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One pending delivery, as the sender needs it."""

    delivery_id: int
    broadcast_id: int
    user_id: int
    external_id: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What became of one send. ``status`` PENDING means "try again at ``retry_at``"."""

    job: Job
    status: DeliveryStatus
    error: str = ""
    retry_at: datetime | None = None
    counts_as_attempt: bool = True


async def due_jobs(
    session: AsyncSession, channel: str, now: datetime, *, after_id: int = 0, limit: int = 500
) -> list[Job]:
    """Pending deliveries on ``channel`` of broadcasts being sent, due now, in id order (oldest broadcast first)."""
    query = (
        select(Delivery.id, Delivery.broadcast_id, Delivery.user_id, Delivery.external_id, Delivery.attempts)
        .join(Broadcast, col(Broadcast.id) == Delivery.broadcast_id)
        .where(
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.PENDING.value,
            col(Delivery.id) > after_id,
            Broadcast.status == BroadcastStatus.SENDING.value,
            or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now),
        )
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    return [Job(*row) for row in (await session.exec(query)).all()]


async def record_outcomes(session: AsyncSession, channel: str, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write what became of sends, in bulk. A recipient who blocked the bot is marked, and their other pending
    deliveries on this channel are skipped (they would be refused too)."""
    by_status: dict[DeliveryStatus, list[Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    ids = {status: [o.job.delivery_id for o in found] for status, found in by_status.items()}
    if ids.get(DeliveryStatus.SENT):
        await session.exec(  # type: ignore[call-overload]
            update(Delivery)
            .where(col(Delivery.id).in_(ids[DeliveryStatus.SENT]))
            .values(status=DeliveryStatus.SENT.value, sent_at=now)
            .execution_options(**BULK)
        )
    blocked_users = sorted({o.job.user_id for o in by_status.get(DeliveryStatus.BLOCKED, [])})
    if blocked_users:
        await session.exec(  # type: ignore[call-overload]
            update(Delivery)
            .where(
                or_(
                    col(Delivery.id).in_(ids[DeliveryStatus.BLOCKED]),
                    and_(
                        col(Delivery.user_id).in_(blocked_users),
                        Delivery.channel == channel,
                        Delivery.status == DeliveryStatus.PENDING.value,
                    ),
                )
            )
            .values(status=DeliveryStatus.BLOCKED.value, last_error="blocked by the user")
            .execution_options(**BULK)
        )
        await session.exec(  # type: ignore[call-overload]
            update(User).where(col(User.id).in_(blocked_users)).values(blocked=True).execution_options(**BULK)
        )
    for outcome in by_status.get(DeliveryStatus.FAILED, []) + by_status.get(DeliveryStatus.PENDING, []):
        values: dict[str, object] = {"status": outcome.status.value, "last_error": outcome.error[:MAX_ERROR]}
        if outcome.counts_as_attempt:
            values["attempts"] = col(Delivery.attempts) + 1
        if outcome.status is DeliveryStatus.PENDING:
            values["next_attempt_at"] = outcome.retry_at
        statement = update(Delivery).where(col(Delivery.id) == outcome.job.delivery_id).values(**values)
        await session.exec(statement.execution_options(**BULK))  # type: ignore[call-overload]
    started = sorted({o.job.broadcast_id for o in outcomes})
    if started:
        await session.exec(  # type: ignore[call-overload]
            update(Broadcast)
            .where(col(Broadcast.id).in_(started), col(Broadcast.started_at).is_(None))
            .values(started_at=now)
            .execution_options(**BULK)
        )


async def finish_completed(session: AsyncSession, now: datetime) -> list[int]:
    """Mark done the broadcasts being sent that have nothing pending any more; their ids."""
    pending = (
        select(Delivery.id)
        .where(col(Delivery.broadcast_id) == Broadcast.id, Delivery.status == DeliveryStatus.PENDING.value)
        .exists()
    )
    query = select(Broadcast.id).where(Broadcast.status == BroadcastStatus.SENDING.value, ~pending)
    done = [int(i) for i in (await session.exec(query)).all()]
    if done:
        await session.exec(  # type: ignore[call-overload]
            update(Broadcast)
            .where(col(Broadcast.id).in_(done), Broadcast.status == BroadcastStatus.SENDING.value)
            .values(status=BroadcastStatus.DONE.value, finished_at=now)
            .execution_options(**BULK)
        )
    return done


# -- one sender at a time ---------------------------------------------------------------------------------------


class SenderLock:
    """Held while this process is the broadcast sender; ``check`` raises when the hold may have been lost."""

    def __init__(self, connection: AsyncConnection | None) -> None:
        self._connection = connection

    async def check(self) -> None:
        if self._connection is not None:
            await self._connection.execute(text("SELECT 1"))


def lock_key(db: Database) -> int:
    """A 64-bit advisory-lock key for this database schema's sender."""
    digest = hashlib.blake2b(f"ocop-bot broadcast sender {db.schema or ''}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@asynccontextmanager
async def sender_lock(db: Database) -> AsyncIterator[SenderLock | None]:
    """Become the one broadcast sender: a PostgreSQL session advisory lock, held on a connection of its own for
    as long as the block runs (a dead process's lock goes with its connection). None when another holds it.

    SQLite has no such lock: run one process per SQLite database (its normal deployment)."""
    if db.is_sqlite:
        yield SenderLock(None)
        return
    key = lock_key(db)
    async with db.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        held = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar()
        if not held:
            yield None
            return
        try:
            yield SenderLock(connection)
        finally:
            with suppress(Exception):  # when the connection is gone, the lock went with it
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
