"""OCOP certificate validity: expired or soon to expire, reminders to producers, counts for the office.

A certificate is valid 36 months from its decision date (models.ocop.certificate_expiry), up to and including its
last day. Dates are Vietnam's local days. A reminder is a row here, inserted race-free in the transaction that
queues it, so a restart or a second replica does not send it again; a renewed certificate (a new decision date)
is reminded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import Producer, Product
from models.clock import TIMEZONE
from models.db import UTCDateTime, utcnow
from models.ocop import certificate_expiry
from models.people import User

EXPIRING_DAYS = 90  # a certificate ending within this many days is flagged and counted as expiring
REMINDER_DAYS = (90, 30)  # the producer is reminded this many days before the last day, once each
_SPAN = (1093, 1097)  # days from decision to last day, at least and at most (36 months, short months clamped)


class Validity(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"  # valid, for at most EXPIRING_DAYS more days
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no decision date


def local_today(now: datetime) -> date:
    """Today in Vietnam."""
    return now.astimezone(TIMEZONE).date()


def validity(expires_on: date | None, today: date) -> Validity:
    if expires_on is None:
        return Validity.UNKNOWN
    if expires_on < today:
        return Validity.EXPIRED
    if (expires_on - today).days <= EXPIRING_DAYS:
        return Validity.EXPIRING
    return Validity.VALID


class CertificateReminder(SQLModel, table=True):
    """A reminder sent to a producer ``days`` before their product's certificate (of ``decision_date``) ends."""

    __tablename__ = "certificate_reminder"
    __table_args__ = (
        UniqueConstraint("product_id", "decision_date", "days", name="uq_certificate_reminder"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    decision_date: date
    days: int
    sent_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class DueReminder:
    product: Product
    producer: Producer
    days: int  # the reminder's threshold (90 or 30)
    expires_on: date
    days_left: int  # from today to the last day (the threshold, unless the reminder comes late)


def _threshold(days_left: int) -> int | None:
    """The reminder due with ``days_left`` days of validity: the nearest threshold not yet passed."""
    due = [days for days in REMINDER_DAYS if 0 <= days_left <= days]
    return min(due) if due else None


async def _ending_between(
    session: AsyncSession, first: date, last: date, *where: Any
) -> list[tuple[Product, Producer]]:
    """Listed products whose certificate's last day falls within [first, last] (and ``where``)."""
    query = (
        select(Product, Producer)
        .join(Producer, col(Producer.id) == Product.producer_id)
        .where(
            col(Product.hidden).is_(False),
            col(Product.decision_date) >= first - timedelta(days=_SPAN[1]),
            col(Product.decision_date) <= last - timedelta(days=_SPAN[0]),
            *where,
        )
        .order_by(col(Product.id))
    )
    rows = (await session.exec(query)).all()
    return [(p, producer) for p, producer in rows if p.expires_on is not None and first <= p.expires_on <= last]


async def claim_due_reminders(session: AsyncSession, now: datetime) -> list[DueReminder]:
    """Reminders due now to producers with someone on the bot, each recorded as sent in this transaction; one
    recorded already, here or by another process, is not returned again. A producer who claims their record later
    gets the reminder then."""
    today = local_today(now)
    on_bot = select(User.producer_id).where(col(User.producer_id).is_not(None), col(User.blocked).is_(False))
    due = []
    for product, producer in await _ending_between(session, today, today + timedelta(days=max(REMINDER_DAYS)),
                                                   col(Product.producer_id).in_(on_bot)):
        assert product.expires_on is not None and product.decision_date is not None
        days_left = (product.expires_on - today).days
        days = _threshold(days_left)
        if days is None:
            continue
        if await _record(session, product.id or 0, product.decision_date, days, now):
            due.append(DueReminder(product, producer, days, product.expires_on, days_left))
    return due


async def _record(session: AsyncSession, product_id: int, decided_on: date, days: int, now: datetime) -> bool:
    """Insert the reminder's row unless it exists; True when this call inserted it."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    values = {"product_id": product_id, "decision_date": decided_on, "days": days, "sent_at": now}
    statement = insert(CertificateReminder).values(**values).on_conflict_do_nothing(
        index_elements=["product_id", "decision_date", "days"]
    )
    result = await session.exec(statement)  # type: ignore[call-overload]
    return bool(result.rowcount)


@dataclass(frozen=True)
class CertificateCounts:
    expiring: int  # valid today, ending within EXPIRING_DAYS days
    expired: int


async def certificate_counts(session: AsyncSession, today: date) -> CertificateCounts:
    """Listed products whose certificate ends in the next EXPIRING_DAYS days, and those already expired."""
    expiring = await _ending_between(session, today, today + timedelta(days=EXPIRING_DAYS))
    # Expired: last day before today, i.e. decided more than 36 months ago; the edge is decided exactly.
    edge = today - timedelta(days=_SPAN[0])
    surely = (
        await session.exec(
            select(func.count()).select_from(Product).where(
                col(Product.hidden).is_(False), col(Product.decision_date) < today - timedelta(days=_SPAN[1])
            )
        )
    ).one()
    near = await session.exec(
        select(Product.decision_date).where(
            col(Product.hidden).is_(False),
            col(Product.decision_date) >= today - timedelta(days=_SPAN[1]),
            col(Product.decision_date) <= edge,
        )
    )
    close = sum(1 for decided in near.all() if decided is not None and certificate_expiry(decided) < today)
    return CertificateCounts(expiring=len(expiring), expired=int(surely) + close)
