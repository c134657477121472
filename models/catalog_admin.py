"""Admin changes to the catalogue in the bot: a product's stars, hiding and showing it (imports: models/import_jobs.py).

Each change is audited and bumps the catalogue version, so every process's search index catches up.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models.admin import require_admin
from models.audit import record
from models.catalog import Product, bump_catalog_version
from models.errors import Stale, StaleAction
from models.people import User

RATINGS = (3, 4, 5)  # OCOP stars; 1–2 stars are not OCOP products


async def _product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise StaleAction("no such product", Stale.GONE)
    return product


async def set_stars(session: AsyncSession, admin: User, product_id: int, stars: int, now: datetime) -> Product:
    """A new rating (3, 4 or 5 stars), e.g. after a re-evaluation."""
    require_admin(admin)
    if stars not in RATINGS:
        raise StaleAction(f"no such rating {stars}")
    product = await _product(session, product_id)
    if product.stars != stars:
        record(session, admin.id, "product.stars", f"product:{product_id}", now, f"{product.stars} -> {stars}")
        product.stars = stars
        product.updated_at = now
        await bump_catalog_version(session)
    return product


async def set_hidden(session: AsyncSession, admin: User, product_id: int, hidden: bool, now: datetime) -> Product:
    """Hide a product from search and cards (kept, with its requests and memos), or show it again."""
    require_admin(admin)
    product = await _product(session, product_id)
    if product.hidden != hidden:
        record(session, admin.id, "product.hide" if hidden else "product.show", f"product:{product_id}", now,
               product.name)
        product.hidden = hidden
        product.updated_at = now
        await bump_catalog_version(session)
    return product

