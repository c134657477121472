"""The bundled SAMPLE catalogue: real kinds of OCOP specialities, invented producers and contacts."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from models.catalog import Product
from models.catalog_import import ImportReport, import_file
from models.db import Database, utcnow
from models.events import Event, add_event, sample_values

SAMPLE_CATALOGUE = Path(__file__).with_name("data") / "sample_catalogue.csv"
SAMPLE_EVENTS = Path(__file__).with_name("data") / "sample_events.csv"  # Hanoi's four themed events


async def product_count(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(Product))).one()


async def load_sample_if_empty(db: Database) -> ImportReport | None:
    """Load the sample catalogue (and the sample events) into an empty database; None when products exist."""
    if await product_count(db):
        return None
    report = await import_file(db, SAMPLE_CATALOGUE)
    await load_sample_events(db)
    return report


async def load_sample_events(db: Database) -> int:
    """Add the sample events unless there are events already; returns how many were added."""
    with SAMPLE_EVENTS.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    async with db.transaction() as session:
        if (await session.exec(select(func.count()).select_from(Event))).one():
            return 0
        for row in rows:
            await add_event(session, sample_values(row), None, utcnow())
    return len(rows)
