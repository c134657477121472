"""Shared fixtures: a migrated database on SQLite and, for real, on PostgreSQL.

PostgreSQL tests run against OCOP_TEST_POSTGRES_URL (default: the local server, database `test`), each test in a
schema of its own. Without a reachable server they are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from models.db import Database

POSTGRES_URL = os.environ.get("OCOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_pg_state: dict[str, str | None] = {}


def _asyncpg_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_problem() -> str | None:
    if "problem" not in _pg_state:
        try:
            conn = await asyncpg.connect(_asyncpg_dsn(), timeout=3)
            await conn.close()
            _pg_state["problem"] = None
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            _pg_state["problem"] = f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} unreachable: {exc}"
    return _pg_state["problem"]


async def require_postgres() -> None:
    problem = await _postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem + " (CI=true: PostgreSQL tests are mandatory)")
        pytest.skip(problem)


async def make_postgres(schema: str) -> Database:
    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return Database(POSTGRES_URL, schema=schema)


async def drop_postgres(schema: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An unmigrated database of each backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
        yield db
        await db.dispose()
        return
    await require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    db = await make_postgres(schema)
    try:
        yield db
    finally:
        await db.dispose()
        await drop_postgres(schema)


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A database of each backend, migrated to the latest schema."""
    await empty_db.upgrade()
    return empty_db


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database, for tests whose subject is not the backend."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
    await db.upgrade()
    yield db
    await db.dispose()
