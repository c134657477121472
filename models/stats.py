"""Programme statistics for the coordination office: catalogue, people, contact requests, memos, events."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.catalog import Producer, catalog_summary
from models.clock import TIMEZONE
from models.events import Event
from models.memos import VISIBLE_TO_PRODUCER, Memo, MemoKind, MemoStatus
from models.people import Role, User
from models.requests import ContactRequest, RequestStatus
from models.scans import FloorFigures, floor_figures

CLOSED = (RequestStatus.ACCEPTED.value, RequestStatus.DECLINED.value, RequestStatus.EXPIRED.value)


@dataclass(frozen=True)
class Stats:
    products: int
    products_by_stars: dict[int, int]
    products_by_group: dict[int, int]
    products_by_region: dict[str, int]  # listed products by their producer's region, most first
    potential_5: int
    producers_in_catalogue: int
    buyers: int  # users registered as buyers
    producers: int  # users who claimed a producer record
    requests: dict[str, int]  # every RequestStatus value -> count
    acceptance_rate: float | None  # accepted / closed (accepted, declined or expired); None before any closed
    median_response: timedelta | None  # from request to the producer's answer, over answered requests
    memos: dict[str, int]  # every MemoStatus value -> count
    memos_by_region: dict[str, int]  # the producer's region, most memos first
    memos_by_province: dict[str, int]  # the producer's province, most memos first
    memos_by_event: list[tuple[str, int]]  # event name -> memos tied to it, most first
    # Memos drafted (draft, confirmed or signed) by kind, as the events report them, and how many were signed;
    # every MemoKind value, in the order of the enum.
    memos_by_kind: dict[str, int] = field(default_factory=dict)
    signed_by_kind: dict[str, int] = field(default_factory=dict)
    kinds_by_event: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # same order as memos_by_event
    floor: list[FloorFigures] = field(default_factory=list)  # scans of booths' QR codes per event, most first

    @property
    def floor_memos(self) -> int:
        """Memos that came from a scan at an event ("memos from the fair floor")."""
        return sum(figures.memos for figures in self.floor)

    @property
    def request_total(self) -> int:
        return sum(self.requests.values())

    @property
    def memo_total(self) -> int:
        return sum(self.memos.values())


async def _counts(session: AsyncSession, column: Any, *where: Any) -> dict[Any, int]:
    rows = await session.exec(select(column, func.count()).where(*where).group_by(column))
    return {key: int(n) for key, n in rows.all()}


def _most_first(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


async def _median_wait(session: AsyncSession) -> timedelta | None:
    """The median time from a request to the producer's answer, to the second. Computed by PostgreSQL itself; on
    SQLite the waits come back as seconds (julianday differences), not as datetimes to parse, and Python takes the
    median (either way the mean of the two middle waits when their number is even)."""
    answered = col(ContactRequest.answered_at).is_not(None)
    sent, replied = col(ContactRequest.created_at), col(ContactRequest.answered_at)
    if session.get_bind().dialect.name == "postgresql":
        middle = (await session.exec(select(func.percentile_cont(0.5).within_group(replied - sent)).where(answered)))
        wait = middle.one()
        return timedelta(seconds=round(wait.total_seconds())) if wait is not None else None
    seconds = (func.julianday(replied) - func.julianday(sent)) * 86400
    waits = (await session.exec(select(seconds).where(answered))).all()
    return timedelta(seconds=round(statistics.median(waits))) if waits else None


async def programme_stats(session: AsyncSession) -> Stats:
    catalogue = await catalog_summary(session)
    roles = await _counts(session, User.role)
    producers = (
        await session.exec(
            select(func.count(func.distinct(User.producer_id))).where(
                User.role == Role.PRODUCER.value, col(User.producer_id).is_not(None)
            )
        )
    ).one()

    by_request = await _counts(session, ContactRequest.status)
    requests = {status.value: by_request.get(status.value, 0) for status in RequestStatus}
    closed = sum(requests[status] for status in CLOSED)
    median_wait = await _median_wait(session)

    by_memo = await _counts(session, Memo.status)
    memos = {status.value: by_memo.get(status.value, 0) for status in MemoStatus}
    provinces = Counter(
        {
            province: int(n)
            for province, n in (
                await session.exec(
                    select(Producer.province, func.count(col(Memo.id)))
                    .join(Producer, col(Producer.id) == Memo.producer_id)
                    .group_by(col(Producer.province))
                )
            ).all()
        }
    )
    regions: Counter[str] = Counter()
    for province, n in provinces.items():
        regions[geography.region_of(province)] += n
    events = await session.exec(
        select(Event.name, func.count(col(Memo.id)))
        .join(Event, col(Event.id) == Memo.event_id)
        .group_by(col(Event.id), col(Event.name))
        .order_by(func.count(col(Memo.id)).desc(), col(Event.id))
    )
    made = col(Memo.status).in_(VISIBLE_TO_PRODUCER)
    by_kind = await _counts(session, Memo.kind, made)
    signed = await _counts(session, Memo.kind, Memo.status == MemoStatus.SIGNED.value)
    event_rows = events.all()
    per_event: dict[str, dict[str, int]] = {name: dict.fromkeys(MemoKind, 0) for name, _n in event_rows}
    for name, kind, n in (
        await session.exec(
            select(Event.name, Memo.kind, func.count(col(Memo.id)))
            .join(Event, col(Event.id) == Memo.event_id)
            .where(made)
            .group_by(col(Event.id), col(Event.name), col(Memo.kind))
        )
    ).all():
        per_event[name][kind] += int(n)
    return Stats(
        products=catalogue.products,
        products_by_stars=catalogue.by_stars,
        products_by_group=catalogue.by_group,
        products_by_region=catalogue.by_region,
        potential_5=catalogue.potential_5,
        producers_in_catalogue=catalogue.producers,
        buyers=roles.get(Role.BUYER.value, 0),
        producers=int(producers),
        requests=requests,
        acceptance_rate=requests[RequestStatus.ACCEPTED.value] / closed if closed else None,
        median_response=median_wait,
        memos=memos,
        memos_by_region=_most_first(regions),
        memos_by_province=_most_first(provinces),
        memos_by_event=[(name, int(n)) for name, n in event_rows],
        memos_by_kind={kind.value: by_kind.get(kind.value, 0) for kind in MemoKind},
        signed_by_kind={kind.value: signed.get(kind.value, 0) for kind in MemoKind},
        kinds_by_event=[(name, {k.value: v for k, v in per_event[name].items()}) for name, _n in event_rows],
        floor=await floor_figures(session),
    )


@dataclass(frozen=True)
class Week:
    start: date  # the Monday, local time
    requests: int  # contact requests sent that week
    signed: int  # memos signed that week


async def weekly_trend(session: AsyncSession, now: datetime, weeks: int = 8) -> list[Week]:
    """Requests sent and memos signed in each of the last ``weeks`` weeks (Monday to Sunday, Vietnam time), oldest
    first; the last is the current week."""
    today = now.astimezone(TIMEZONE).date()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    starts = [datetime.combine(first + timedelta(weeks=n), time(), TIMEZONE) for n in range(weeks + 1)]

    async def per_week(moment: Any) -> list[int]:
        """One pass: a count per week, each a SUM(CASE) between that Monday and the next (the last: until now)."""
        counts = [
            func.coalesce(func.sum(case((and_(moment >= start, moment < end), 1), else_=0)), 0)
            for start, end in itertools.pairwise(starts)
        ]
        row = (await session.exec(select(*counts).where(moment >= starts[0]))).one()
        return [int(n) for n in row]

    requests = await per_week(col(ContactRequest.created_at))
    signed = await per_week(col(Memo.signed_at))
    return [Week(first + timedelta(weeks=n), requests[n], signed[n]) for n in range(weeks)]
