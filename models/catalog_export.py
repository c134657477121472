"""Export of the catalogue in a shape the importer reads back unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geography
from models.catalog import Producer, Product
from models.db import Database
from models.sheet import Column, Kind, Table, machine_rows

K = Kind
PRODUCT_COLUMNS = (
    Column("id", K.NUMBER), Column("name"), Column("producer"), Column("producer_kind", K.PRODUCER_KIND),
    Column("address"), Column("ward"), Column("province"), Column("old_province"), Column("region"),
    Column("group", K.NUMBER), Column("group_name", K.GROUP), Column("subgroup"), Column("stars", K.STARS),
    Column("potential_5", K.YES_NO), Column("decision_no"), Column("decision_date", K.DATE),
    Column("expires_on", K.DATE), Column("phone"), Column("email"), Column("description"), Column("unit"),
    Column("capacity"), Column("season"), Column("photo"),
)
COLUMNS = tuple(column.key for column in PRODUCT_COLUMNS)  # the machine header


async def product_rows(db: Database, *, include_hidden: bool = False) -> list[Sequence[Any]]:
    """One row per product, in COLUMNS order, sorted by id, as machine columns hold it."""
    async with db.session() as session:
        return await product_rows_in(session, include_hidden=include_hidden)


async def product_rows_in(session: AsyncSession, *, include_hidden: bool = False) -> list[Sequence[Any]]:
    return list(machine_rows(await product_table_in(session, include_hidden=include_hidden)))


async def product_table(db: Database, *, include_hidden: bool = False) -> Table:
    async with db.session() as session:
        return await product_table_in(session, include_hidden=include_hidden)


async def product_table_in(session: AsyncSession, *, include_hidden: bool = False) -> Table:
    """The catalogue with typed values (codes, numbers, dates), to be written as machine or human columns."""
    query = select(Product, Producer).join(Producer).order_by(col(Product.id))
    if not include_hidden:
        query = query.where(col(Product.hidden).is_(False))
    pairs = (await session.exec(query)).all()
    return Table(PRODUCT_COLUMNS, [_row(product, producer) for product, producer in pairs])


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
        product.group,
        product.subgroup,
        product.stars,
        product.potential_5,
        product.decision_no,
        product.decision_date,
        product.expires_on,
        producer.phone,
        producer.email,
        product.description,
        product.unit,
        product.capacity,
        product.season,
        product.photo,
    )
