"""The OCOP catalogue: producers ("chủ thể") and their certified products."""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.db import UTCDateTime, utcnow
from models.ocop import Group, ProducerKind, certificate_expiry
from models.text import normalize


class Producer(SQLModel, table=True):
    """An OCOP owner: cooperative, enterprise, household business or cooperative group."""

    __table_args__ = (UniqueConstraint("name_key", "province", name="uq_producer_name_province"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    name_key: str = Field(max_length=300, index=True)  # models.text.normalize(name)
    kind: str = Field(max_length=32)  # ProducerKind value
    address: str = Field(default="", max_length=500)  # as issued on the certificate
    ward: str = Field(default="", max_length=120)  # commune/ward, first part of the address
    province: str = Field(max_length=60, index=True)  # current unit (34)
    old_province: str | None = Field(default=None, max_length=60)  # pre-2025 province, when known
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=200)
    zalo: str = Field(default="", max_length=200)
    telegram: str = Field(default="", max_length=200)
    # Given by the producer after claiming the record (models.parties), for memos; an import leaves them alone.
    representative: str = Field(default="", max_length=200)
    position: str = Field(default="", max_length=120)
    tax_code: str = Field(default="", max_length=14)
    given_address: str = Field(default="", max_length=500)  # "" → the certificate's address
    given_email: str = Field(default="", max_length=200)  # "" → the catalogue's e-mail
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def producer_kind(self) -> ProducerKind:
        return ProducerKind(self.kind)

    @property
    def region(self) -> str:
        return geography.region_of(self.province)


class Product(SQLModel, table=True):
    """A certified OCOP product; ``stars`` 3–5, ``potential_5`` for products sent up for national rating."""

    __table_args__ = (UniqueConstraint("producer_id", "name_key", name="uq_product_producer_name"),)

    id: int | None = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    name: str = Field(max_length=300)
    name_key: str = Field(max_length=300)
    group: int = Field(ge=1, le=6, index=True)  # ocop.Group
    subgroup: str = Field(default="", max_length=200)
    stars: int = Field(ge=3, le=5, index=True)
    potential_5: bool = False
    decision_no: str = Field(default="", max_length=100)
    decision_date: date | None = None
    description: str = Field(default="", max_length=4000)
    unit: str = Field(default="", max_length=100)
    capacity: str = Field(default="", max_length=200)
    season: str = Field(default="", max_length=200)
    photo: str = Field(default="", max_length=500)  # URL or platform file id
    hidden: bool = False  # hidden by an admin: kept, but not searchable
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

    @property
    def product_group(self) -> Group:
        return Group(self.group)

    @property
    def expires_on(self) -> date | None:
        """The certificate's last day of validity: 36 months after the decision."""
        return certificate_expiry(self.decision_date) if self.decision_date else None

    def is_valid_on(self, day: date) -> bool:
        return self.expires_on is not None and day <= self.expires_on


class CatalogVersion(SQLModel, table=True):
    """A single-row counter bumped on every catalogue change, so every process can tell its index is stale."""

    __tablename__ = "catalog_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
    changed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


async def bump_catalog_version(session: AsyncSession) -> int:
    """Record that the catalogue changed; search indexes in every process compare against this number."""
    row = await session.get(CatalogVersion, 1)
    if row is None:
        row = CatalogVersion(id=1, version=0)
        session.add(row)
    row.version += 1
    row.changed_at = utcnow()
    await session.flush()
    return row.version


async def catalog_version(session: AsyncSession) -> int:
    row = await session.get(CatalogVersion, 1)
    return row.version if row else 0


@dataclass(frozen=True)
class CatalogSummary:
    """The listed (not hidden) products counted by stars, OCOP group, potential 5★ and their producer's region;
    producers and provinces over the whole catalogue."""

    products: int
    producers: int
    provinces: int
    by_stars: dict[int, int]
    potential_5: int
    by_group: dict[int, int]
    by_region: dict[str, int]  # most first


# The last summary per engine, with the catalogue version it was read at: every catalogue change bumps the version
# (in its own transaction), so a process reads the 100,000 products again only after a change, whoever made it.
_summaries: weakref.WeakKeyDictionary[Any, tuple[int, CatalogSummary]] = weakref.WeakKeyDictionary()


async def catalog_summary(session: AsyncSession) -> CatalogSummary:
    engine = session.bind.sync_engine if session.bind is not None else None
    # The version is read before the products: a change committed in between is counted now and read again at the
    # next call (its version is newer), never missed.
    version = await catalog_version(session)
    cached = _summaries.get(engine) if engine is not None else None
    if cached is not None and cached[0] == version:
        return cached[1]
    summary = await _read_summary(session)
    if engine is not None:
        _summaries[engine] = (version, summary)
    return summary


async def _read_summary(session: AsyncSession) -> CatalogSummary:
    """One grouped pass over the listed products (joined to their producer's province) and two small counts."""
    rows = await session.exec(
        select(Producer.province, Product.stars, Product.group, Product.potential_5, func.count())
        .join(Producer, col(Producer.id) == Product.producer_id)
        .where(col(Product.hidden).is_(False))
        .group_by(col(Producer.province), col(Product.stars), col(Product.group), col(Product.potential_5))
    )
    stars: Counter[int] = Counter()
    groups: Counter[int] = Counter()
    regions: Counter[str] = Counter()
    potential = 0
    for province, star, group, potential_5, n in rows.all():
        stars[int(star)] += n
        groups[int(group)] += n
        regions[geography.region_of(province)] += n
        potential += n if potential_5 else 0
    producers = (await session.exec(select(func.count()).select_from(Producer))).one()
    provinces = (await session.exec(select(func.count(func.distinct(Producer.province))))).one()
    return CatalogSummary(
        products=sum(stars.values()),
        producers=producers,
        provinces=provinces,
        by_stars=dict(sorted(stars.items())),
        potential_5=potential,
        by_group=dict(sorted(groups.items())),
        by_region=dict(sorted(regions.items(), key=lambda item: (-item[1], item[0]))),
    )


async def find_producers(session: AsyncSession, text: str, limit: int = 5) -> list[Producer]:
    """Producers whose name is closest to ``text`` (accents, case and word order do not matter)."""
    key = normalize(text)
    if not key:
        return []
    rows = (await session.exec(select(Producer.id, Producer.name_key))).all()
    scored = process.extract(key, {pid: name for pid, name in rows}, scorer=fuzz.WRatio, limit=limit, score_cutoff=70)
    producers = [await session.get(Producer, pid) for _name, _score, pid in scored]
    return [p for p in producers if p is not None]


async def visible_product(session: AsyncSession, product_id: int) -> tuple[Product, Producer] | None:
    product = await session.get(Product, product_id)
    if product is None or product.hidden:
        return None
    producer = await session.get(Producer, product.producer_id)
    assert producer is not None
    return product, producer


async def products_of(session: AsyncSession, producer_id: int) -> list[Product]:
    """A producer's listed products, by name."""
    query = select(Product).where(Product.producer_id == producer_id, col(Product.hidden).is_(False))
    return list((await session.exec(query.order_by(col(Product.name_key), col(Product.id)))).all())
