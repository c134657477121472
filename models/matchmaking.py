"""Partner suggestions at a trade-connection event: buyers and producers there ranked by fit, with the reasons.

Who is at an event: its registrants (models/events.py). A buyer is a user registered with the buyer role; a
producer is the producer record (``User.producer_id``) of a user registered with the producer role — several of its
people registering count once, and someone registered as a producer without a claimed record brings no producer.

One pair score serves both directions: a buyer sees the event's producers by the score of (buyer, producer), a
producer the event's buyers by the same score. It is a sum of fixed integer weights (docs/MATCHMAKING.md has the
formula and a worked example), ties broken by the smaller id, so the same data always gives the same order.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.catalog import CatalogVersion, Producer, Product
from models.certificates import EXPIRING_DAYS
from models.events import Event, EventRole, EventStatus, Registration
from models.ocop import Group, certificate_expiry
from models.people import BuyerKind, BuyerProfile, User
from models.requests import ContactRequest
from models.search_log import RECENT, Interest, SearchLog, recent_interests
from models.text import normalize

W_REQUESTED = 5  # the buyer asked for contact about one of the producer's products
W_SEARCH = 4  # each recent search of the buyer the producer's products answer (at most MAX_SEARCHES count)
MAX_SEARCHES = 2
W_REGION = 3  # the producer is in one of the buyer's regions of interest
W_GROUP = 2  # the producer makes a product group the buyer searched for or asked about
W_KIND = 1  # the buyer's kind of business commonly buys one of the producer's groups (KIND_GROUPS)
W_STAR = 1  # per star above 3 of the producer's best product with a valid certificate (0, 1 or 2)
W_EXPIRING = -1  # every valid certificate of the producer ends within EXPIRING_DAYS days
W_EXPIRED = -4  # no product of the producer holds a valid certificate today

TOP = 30  # suggestions offered to one person

# A weak prior: the product groups each kind of buyer usually trades in.
KIND_GROUPS: dict[str, frozenset[int]] = {
    BuyerKind.SUPERMARKET.value: frozenset({Group.FOOD, Group.DRINKS, Group.HERBAL}),
    BuyerKind.RETAIL_CHAIN.value: frozenset({Group.FOOD, Group.DRINKS, Group.HERBAL}),
    BuyerKind.ECOMMERCE.value: frozenset({Group.FOOD, Group.DRINKS, Group.HERBAL}),
    BuyerKind.DISTRIBUTOR.value: frozenset({Group.FOOD, Group.DRINKS}),
    BuyerKind.WHOLESALER.value: frozenset({Group.FOOD, Group.DRINKS}),
    BuyerKind.HORECA.value: frozenset({Group.FOOD, Group.DRINKS, Group.TOURISM}),
    BuyerKind.EXPORTER.value: frozenset({Group.FOOD, Group.HANDICRAFT}),
}


class Why:
    """The kinds of reason, in the order they are shown when they weigh the same."""

    REQUESTED = "requested"
    SEARCH = "search"
    REGION = "region"
    GROUP = "group"
    KIND = "kind"
    STARS = "stars"
    EXPIRING = "expiring"
    EXPIRED = "expired"

    ORDER = (REQUESTED, SEARCH, REGION, GROUP, KIND, STARS, EXPIRING, EXPIRED)


@dataclass(frozen=True)
class Reason:
    why: str  # a Why value
    points: int
    detail: str = ""  # the search, region or product named; the stars for STARS
    group: int = 0  # for GROUP and KIND


@dataclass(frozen=True)
class Offer:
    """A listed product as scoring reads it."""

    id: int
    name: str
    group: int
    stars: int
    tokens: frozenset[str]  # normalised words of its name and subgroup
    expires_on: date | None


@dataclass(frozen=True)
class ProducerSide:
    id: int
    name: str
    province: str
    old_province: str | None
    products: tuple[Offer, ...]

    @property
    def groups(self) -> frozenset[int]:
        return frozenset(offer.group for offer in self.products)


@dataclass(frozen=True)
class Asked:
    """A contact request of a buyer, as scoring reads it."""

    producer_id: int
    product_name: str
    group: int


@dataclass(frozen=True)
class BuyerSide:
    user_id: int
    name: str  # the company, else the person's name
    kind: str
    regions: tuple[str, ...]
    interests: tuple[Interest, ...] = ()
    asked: tuple[Asked, ...] = ()
    groups: frozenset[int] = field(init=False)  # searched for or asked about

    def __post_init__(self) -> None:
        searched = {group for interest in self.interests for group in interest.groups}
        object.__setattr__(self, "groups", frozenset(searched | {a.group for a in self.asked}))


@dataclass(frozen=True)
class Match:
    buyer: BuyerSide
    producer: ProducerSide
    score: int
    reasons: tuple[Reason, ...]  # every reason that scored, strongest first

    def shown(self, limit: int = 2) -> tuple[Reason, ...]:
        """The reasons to show: the strongest ``limit`` that count for, and any that counts against."""
        good = [r for r in self.reasons if r.points > 0][:limit]
        return (*good, *(r for r in self.reasons if r.points < 0))


# -- scoring ------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _cover(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The current units and old provinces a place name covers (nothing for a name no longer known)."""
    place = geography.resolve(name).place
    return (place.provinces, place.old_provinces) if place else (frozenset(), frozenset())


def in_place(producer: ProducerSide, name: str) -> bool:
    """Whether the producer is in the named place; by its pre-2025 province when known, as search filters do."""
    units, olds = _cover(name)
    if producer.old_province:
        return producer.old_province in olds
    return producer.province in units


def answers(producer: ProducerSide, interest: Interest) -> bool:
    """Whether one of the producer's products is what the search asked for (words, groups, stars, place)."""
    if interest.places and not any(in_place(producer, name) for name in interest.places):
        return False
    return any(
        interest.words <= offer.tokens
        and (not interest.groups or offer.group in interest.groups)
        and (interest.min_stars is None or offer.stars >= interest.min_stars)
        for offer in producer.products
    )


def score(buyer: BuyerSide, producer: ProducerSide, today: date) -> Match:
    """The pair's fit: the sum of the reasons' points (module constants), the reasons strongest first."""
    reasons: list[Reason] = []
    asked = [a for a in buyer.asked if a.producer_id == producer.id]
    if asked:
        reasons.append(Reason(Why.REQUESTED, W_REQUESTED, asked[0].product_name))
    searches = [interest for interest in buyer.interests if answers(producer, interest)][:MAX_SEARCHES]
    for interest in searches:
        reasons.append(Reason(Why.SEARCH, W_SEARCH, interest.label))
    region = next((name for name in buyer.regions if in_place(producer, name)), None)
    if region is not None:
        reasons.append(Reason(Why.REGION, W_REGION, region))
    groups = producer.groups
    shared = sorted(groups & buyer.groups)
    if shared:
        reasons.append(Reason(Why.GROUP, W_GROUP, group=shared[0]))
    usual = sorted(groups & KIND_GROUPS.get(buyer.kind, frozenset()))
    if usual:
        reasons.append(Reason(Why.KIND, W_KIND, buyer.kind, group=usual[0]))
    valid = [offer for offer in producer.products if offer.expires_on is not None and offer.expires_on >= today]
    if valid:
        best = max(offer.stars for offer in valid)
        if best > 3:
            reasons.append(Reason(Why.STARS, W_STAR * (best - 3), str(best)))
        last_day = max(offer.expires_on for offer in valid if offer.expires_on is not None)
        if (last_day - today).days <= EXPIRING_DAYS:
            reasons.append(Reason(Why.EXPIRING, W_EXPIRING, f"{last_day:%d/%m/%Y}"))
    elif producer.products:
        reasons.append(Reason(Why.EXPIRED, W_EXPIRED))
    ordered = sorted(reasons, key=lambda r: (-r.points, Why.ORDER.index(r.why)))
    return Match(buyer, producer, sum(r.points for r in reasons), tuple(ordered))


def for_buyer(buyer: BuyerSide, producers: Iterable[ProducerSide], today: date, top: int = TOP) -> list[Match]:
    """The producers ranked for a buyer: highest score first, then the smaller producer id."""
    matches = [score(buyer, producer, today) for producer in producers]
    return sorted(matches, key=lambda m: (-m.score, m.producer.id))[:top]


def for_producer(producer: ProducerSide, buyers: Iterable[BuyerSide], today: date, top: int = TOP) -> list[Match]:
    """The buyers ranked for a producer: highest score first, then the smaller user id."""
    matches = [score(buyer, producer, today) for buyer in buyers]
    return sorted(matches, key=lambda m: (-m.score, m.buyer.user_id))[:top]


# -- loading an event's people --------------------------------------------------------------------------------------


def _registered(event_id: int, role: EventRole):  # the users registered with this role, as a select
    return select(Registration.user_id).where(Registration.event_id == event_id, Registration.role == role.value)


async def event_producers(session: AsyncSession, event_id: int, only: int | None = None) -> list[ProducerSide]:
    """The producers at the event (``only``: just that one, if it is there) with their listed products, in one
    query of the columns scoring reads."""
    ids = select(User.producer_id).where(
        col(User.id).in_(_registered(event_id, EventRole.PRODUCER)), col(User.producer_id).is_not(None)
    )
    if only is not None:
        ids = ids.where(User.producer_id == only)
    listed = (col(Product.producer_id) == Producer.id) & col(Product.hidden).is_(False)
    rows = await _rows(
        session,
        select(Producer.id, Producer.name, Producer.province, Producer.old_province, Product.id, Product.name,
               Product.group, Product.subgroup, Product.stars, Product.decision_date)
        .outerjoin(Product, listed)
        .where(col(Producer.id).in_(ids))
        .order_by(col(Producer.id), col(Product.id))
    )
    heads: dict[int, tuple[str, str, str | None]] = {}
    offers: dict[int, list[Offer]] = {}
    for producer_id, name, province, old, product_id, product, group, subgroup, stars, decided in rows.all():
        heads[producer_id] = (name, province, old)
        found = offers.setdefault(producer_id, [])
        if product_id is not None:
            expires = certificate_expiry(decided) if decided else None
            found.append(Offer(product_id, product, group, stars, _tokens(product, subgroup), expires))
    return [ProducerSide(pid, *heads[pid], tuple(offers[pid])) for pid in heads]


async def _rows(session: AsyncSession, query: Any) -> Any:
    """The rows of a select of columns, read through the connection (no ORM layer: thousands of rows a call)."""
    return await (await session.connection()).execute(query)


@lru_cache(maxsize=65536)
def _tokens(name: str, subgroup: str) -> frozenset[str]:
    return frozenset(normalize(f"{name} {subgroup}").split())


async def event_buyers(
    session: AsyncSession, event_id: int, now: datetime, only: int | None = None
) -> list[BuyerSide]:
    """The buyers at the event (``only``: just that user, if registered as a buyer) with their profile, recent
    searches and contact requests (three queries of the columns scoring reads)."""
    users = _registered(event_id, EventRole.BUYER)
    if only is not None:
        users = users.where(Registration.user_id == only)
    people = (
        await _rows(
            session,
            select(User.id, User.display_name, BuyerProfile.company, BuyerProfile.kind, BuyerProfile.regions)
            .outerjoin(BuyerProfile, col(BuyerProfile.user_id) == User.id)
            .where(col(User.id).in_(users))
            .order_by(col(User.id))
        )
    ).all()
    user_ids = [int(row[0]) for row in people]
    interests = await recent_interests(session, users, now)
    asked: dict[int, list[Asked]] = {user_id: [] for user_id in user_ids}
    if user_ids:
        requests = await _rows(
            session,
            select(ContactRequest.buyer_user_id, ContactRequest.producer_id, Product.name, Product.group)
            .join(Product, col(Product.id) == ContactRequest.product_id)
            .where(col(ContactRequest.buyer_user_id).in_(users), col(ContactRequest.created_at) >= now - RECENT)
            .order_by(col(ContactRequest.id).desc())
        )
        for buyer_id, producer_id, name, group in requests.all():
            asked[buyer_id].append(Asked(producer_id, name, group))
    return [
        BuyerSide(
            user_id=int(user_id),
            name=company or display_name,
            kind=kind or "",
            regions=tuple(regions or ()),
            interests=tuple(interests.get(user_id, ())),
            asked=tuple(asked.get(user_id, ())),
        )
        for user_id, display_name, company, kind, regions in people
    ]


async def events_of(session: AsyncSession, user_id: int, today: date) -> list[Event]:
    """The scheduled events not over yet that the user registered for, soonest first."""
    query = (
        select(Event)
        .join(Registration, col(Registration.event_id) == Event.id)
        .where(Registration.user_id == user_id, Event.status == EventStatus.SCHEDULED.value,
               col(Event.ends_on) >= today)
        .order_by(col(Event.starts_on), col(Event.id))
    )
    return list((await session.exec(query)).all())


class EventPeople:
    """The event's producers and buyers as scoring reads them, kept in this process while nothing they depend on
    changed, so that a person's suggestions load only their own side.

    What they depend on is checked with one query at each use (the *mark*): the event's registrations (count and
    newest), how many of its producer registrants have claimed a record, the newest search logged, the newest contact
    request, the catalogue's version (every product or producer change bumps it) and the local day (the 90-day
    window). A buyer's profile has no change stamp: a kept list is also renewed after ``ttl`` seconds, so a profile
    edited meanwhile counts within that time."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._kept: dict[tuple[str, int], tuple[tuple[object, ...], float, list[Any]]] = {}

    async def producers(self, session: AsyncSession, event_id: int, today: date) -> list[ProducerSide]:
        return await self._get(session, "producers", event_id, today, lambda: event_producers(session, event_id))

    async def buyers(self, session: AsyncSession, event_id: int, now: datetime, today: date) -> list[BuyerSide]:
        return await self._get(session, "buyers", event_id, today, lambda: event_buyers(session, event_id, now))

    async def _get(self, session: AsyncSession, kind: str, event_id: int, today: date,
                   load: Callable[[], Awaitable[list[Any]]]) -> list[Any]:
        mark = (*await _mark(session, event_id), today)
        kept = self._kept.get((kind, event_id))
        if kept is not None and kept[0] == mark and self.clock() - kept[1] < self.ttl:
            return kept[2]
        sides = await load()
        self._kept[(kind, event_id)] = (mark, self.clock(), sides)
        return sides


async def _mark(session: AsyncSession, event_id: int) -> tuple[object, ...]:
    """What the event's people depend on, in one query (see EventPeople)."""
    registered = select(Registration.user_id).where(Registration.event_id == event_id)
    of_event = Registration.event_id == event_id
    query = select(
        select(func.count()).select_from(Registration).where(of_event).scalar_subquery(),
        select(func.max(Registration.id)).where(of_event).scalar_subquery(),
        select(func.count()).select_from(User)
        .where(col(User.id).in_(registered), col(User.producer_id).is_not(None)).scalar_subquery(),
        select(func.max(SearchLog.id)).scalar_subquery(),
        select(func.max(ContactRequest.id)).scalar_subquery(),
        select(func.max(CatalogVersion.version)).scalar_subquery(),
    )
    row = (await _rows(session, query)).one()
    return tuple(row)


async def suggest_producers(session: AsyncSession, event_id: int, buyer_id: int, now: datetime, today: date,
                            people: EventPeople | None = None) -> list[Match]:
    """The event's producers for one of its buyers, best first (empty when the user is not a buyer there);
    ``people``: the process's kept lists, if any."""
    buyers = await event_buyers(session, event_id, now, only=buyer_id)
    if not buyers:
        return []
    producers = await (people.producers(session, event_id, today) if people else event_producers(session, event_id))
    return for_buyer(buyers[0], producers, today)


async def suggest_buyers(session: AsyncSession, event_id: int, producer_id: int, now: datetime, today: date,
                         people: EventPeople | None = None) -> list[Match]:
    """The event's buyers for one of its producers, best first (empty when the producer is not there)."""
    producers = await event_producers(session, event_id, only=producer_id)
    if not producers:
        return []
    buyers = await (people.buyers(session, event_id, now, today) if people else event_buyers(session, event_id, now))
    return for_producer(producers[0], buyers, today)
