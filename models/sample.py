"""The bundled SAMPLE catalogue: real kinds of OCOP specialities, invented producers and contacts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from models.catalog import Product
from models.catalog_import import ImportReport, import_file
from models.db import Database

SAMPLE_CATALOGUE = Path(__file__).with_name("data") / "sample_catalogue.csv"


async def product_count(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(Product))).one()


async def load_sample_if_empty(db: Database) -> ImportReport | None:
    """Load the sample catalogue into an empty database; None when products already exist."""
    if await product_count(db):
        return None
    return await import_file(db, SAMPLE_CATALOGUE)
