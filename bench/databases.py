"""A fresh migrated database for one benchmark run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from models.db import Database


@asynccontextmanager
async def fresh_database(url: str | None, folder: str) -> AsyncIterator[Database]:
    """A migrated database for the run: a SQLite file, or a PostgreSQL database made for it and dropped after."""
    if url is None or url.startswith("sqlite"):
        db = Database(url or f"sqlite+aiosqlite:///{folder}/bench.sqlite3")
        try:
            await db.upgrade()
            yield db
        finally:
            await db.dispose()
        return
    name = f"ocop_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = Database(make_url(url).set(database=name).render_as_string(hide_password=False))
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
