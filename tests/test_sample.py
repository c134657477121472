"""The bundled sample catalogue is what the README promises."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlmodel import select

from models import geography
from models.catalog import Producer, Product
from models.catalog_import import parse_rows
from models.db import Database
from models.sample import SAMPLE_CATALOGUE, load_sample_if_empty
from models.tabular import read_rows


def test_sample_rows_are_all_valid_and_cover_the_country() -> None:
    rows, errors, count = parse_rows(read_rows(SAMPLE_CATALOGUE), date(2026, 11, 27))
    assert errors == [] and count == len(rows)
    assert len(rows) >= 300
    assert len({(r.producer, r.province) for r in rows}) >= 150
    assert {r.province for r in rows} == set(geography.current_units())
    assert {r.group for r in rows} == {1, 2, 3, 4, 5, 6}
    stars = Counter(r.stars for r in rows)
    assert stars[3] + stars[4] > 0.8 * len(rows) and 0 < stars[5] < 0.1 * len(rows)
    assert 0 < sum(r.potential_5 for r in rows) < 0.1 * len(rows)
    merged_away = [r for r in rows if r.old_province and geography.is_merged_away(r.old_province)]
    assert len(merged_away) > 50  # old province names, as real lists have
    assert all("0900 000" in r.phone for r in rows)
    assert all(r.email.endswith("@example.com") for r in rows if r.email)


async def test_sample_loads_into_an_empty_database_only(db: Database) -> None:
    report = await load_sample_if_empty(db)
    assert report is not None and report.errors == [] and report.products_created >= 300
    assert await load_sample_if_empty(db) is None
    async with db.session() as session:
        products = (await session.exec(select(Product))).all()
        producers = (await session.exec(select(Producer))).all()
    assert len(products) == report.products_created
    assert len(producers) == report.producers_created
