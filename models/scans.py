"""Scans of our deep links: who opened which card from which event's booth, where a registration should lead back
to, and which requests and memos came from the fair floor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import Product
from models.db import UTCDateTime, utcnow

RESUME_WITHIN = timedelta(hours=24)  # a registration finished this long after a scan goes back to its card
ATTRIBUTE_WITHIN = timedelta(days=7)  # a request sent this long after a scan at an event counts as from that scan
EVENT_GRACE = timedelta(days=30)  # a booth's code keeps its event this long after the event's last day


class LinkScan(SQLModel, table=True):
    """One opening of a deep link (a scanned QR code, a forwarded share, a typed code)."""

    __tablename__ = "link_scan"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    channel: str = Field(max_length=20)
    target: str = Field(max_length=1)  # models.deeplinks.Target value
    item: int = 0  # the product, producer or event id (0 for /link)
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # the event where it was printed
    booth: str = Field(default="", max_length=8)
    registered: bool = False  # whether the user had a role when they scanned
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    resumed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


async def record_scan(
    session: AsyncSession, user_id: int, channel: str, target: str, item: int, event_id: int | None, booth: str,
    *, registered: bool, now: datetime,
) -> LinkScan:
    scan = LinkScan(user_id=user_id, channel=channel, target=target, item=item, event_id=event_id, booth=booth,
                    registered=registered, created_at=now)
    session.add(scan)
    await session.flush()
    return scan


async def heading(session: AsyncSession, user_id: int, now: datetime) -> LinkScan | None:
    """The scan an unregistered user made just before registering, not yet gone back to; marked as gone back to."""
    query = (
        select(LinkScan)
        .where(LinkScan.user_id == user_id, col(LinkScan.registered).is_(False), col(LinkScan.resumed_at).is_(None),
               col(LinkScan.created_at) >= now - RESUME_WITHIN)
        .order_by(col(LinkScan.created_at).desc(), col(LinkScan.id).desc())
    )
    scan = (await session.exec(query)).first()
    if scan is not None:
        scan.resumed_at = now
        session.add(scan)
    return scan


async def scan_behind(session: AsyncSession, user_id: int, product: Product, now: datetime) -> LinkScan | None:
    """The latest scan at an event of this product or of its producer by ``user_id`` within ATTRIBUTE_WITHIN: the
    one a contact request about ``product`` comes from."""
    from models.deeplinks import Target  # (no cycle: deeplinks imports only models.parse)

    names_it = ((col(LinkScan.target) == Target.PRODUCT.value) & (col(LinkScan.item) == product.id)) | (
        (col(LinkScan.target) == Target.PRODUCER.value) & (col(LinkScan.item) == product.producer_id)
    )
    query = (
        select(LinkScan)
        .where(LinkScan.user_id == user_id, col(LinkScan.event_id).is_not(None), names_it,
               col(LinkScan.created_at) >= now - ATTRIBUTE_WITHIN)
        .order_by(col(LinkScan.created_at).desc(), col(LinkScan.id).desc())
    )
    return (await session.exec(query)).first()


@dataclass(frozen=True)
class FloorFigures:
    """What the fair floor brought, per event: scans, people who scanned, requests and memos from scans."""

    event_id: int
    name: str
    scans: int
    people: int
    requests: int
    memos: int
    booths: dict[str, int]  # booth label -> scans, most first


async def floor_figures(session: AsyncSession) -> list[FloorFigures]:
    """Per event (most scans first), the scans of its booths' codes and the requests and memos they led to."""
    from models.events import Event
    from models.memos import Memo
    from models.requests import ContactRequest

    scans = (
        await session.exec(
            select(LinkScan.event_id, Event.name, func.count(col(LinkScan.id)),
                   func.count(func.distinct(col(LinkScan.user_id))))
            .join(Event, col(Event.id) == LinkScan.event_id)
            .group_by(col(LinkScan.event_id), col(Event.name))
        )
    ).all()
    requests = dict(
        (
            await session.exec(
                select(LinkScan.event_id, func.count(col(ContactRequest.id)))
                .join(LinkScan, col(LinkScan.id) == ContactRequest.scan_id)
                .group_by(col(LinkScan.event_id))
            )
        ).all()
    )
    memos = dict(
        (
            await session.exec(
                select(LinkScan.event_id, func.count(col(Memo.id)))
                .join(ContactRequest, col(ContactRequest.id) == Memo.request_id)
                .join(LinkScan, col(LinkScan.id) == ContactRequest.scan_id)
                .group_by(col(LinkScan.event_id))
            )
        ).all()
    )
    booths: dict[int, dict[str, int]] = {}
    for event_id, booth, n in (
        await session.exec(
            select(LinkScan.event_id, LinkScan.booth, func.count(col(LinkScan.id)))
            .where(col(LinkScan.event_id).is_not(None), LinkScan.booth != "")
            .group_by(col(LinkScan.event_id), col(LinkScan.booth))
        )
    ).all():
        booths.setdefault(int(event_id), {})[booth.upper()] = int(n)
    figures = [
        FloorFigures(int(event_id), name, int(n), int(people), int(requests.get(event_id, 0)),
                     int(memos.get(event_id, 0)),
                     dict(sorted(booths.get(int(event_id), {}).items(), key=lambda item: (-item[1], item[0]))))
        for event_id, name, n, people in scans
    ]
    return sorted(figures, key=lambda f: (-f.scans, f.event_id))
