"""Export of the catalogue in a shape the importer reads back unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.catalog import Producer, Product
from models.db import Database
from models.ocop import Group

COLUMNS = (
    "id", "name", "producer", "producer_kind", "address", "ward", "province", "old_province", "region", "group",
    "group_name", "subgroup", "stars", "potential_5", "decision_no", "decision_date", "expires_on", "phone",
    "email", "description", "unit", "capacity", "season", "photo",
)


async def product_rows(db: Database, *, include_hidden: bool = False) -> list[Sequence[Any]]:
    """One row per product, in COLUMNS order, sorted by id."""
    async with db.session() as session:
        return await product_rows_in(session, include_hidden=include_hidden)


async def product_rows_in(session: AsyncSession, *, include_hidden: bool = False) -> list[Sequence[Any]]:
    query = select(Product, Producer).join(Producer).order_by(col(Product.id))
    if not include_hidden:
        query = query.where(col(Product.hidden).is_(False))
    pairs = (await session.exec(query)).all()
    return [_row(product, producer) for product, producer in pairs]


def _row(product: Product, producer: Producer) -> tuple[Any, ...]:
    return (
        product.id,
        product.name,
        producer.name,
        producer.kind,
        producer.address,
        producer.ward,
        producer.province,
        producer.old_province or "",
        geography.region_of(producer.province),
        product.group,
        Group(product.group).label,
        product.subgroup,
        product.stars,
        "x" if product.potential_5 else "",
        product.decision_no,
        product.decision_date.isoformat() if product.decision_date else "",
        product.expires_on.isoformat() if product.expires_on else "",
        producer.phone,
        producer.email,
        product.description,
        product.unit,
        product.capacity,
        product.season,
        product.photo,
    )
