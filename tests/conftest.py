"""Shared fixtures: a migrated database on SQLite and, for real, on PostgreSQL.

PostgreSQL tests run against OCOP_TEST_POSTGRES_URL (default: the local server, database `test`), each test in a
schema of its own. Without a reachable server they are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
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


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Each test worker migrates once: a SQLite file copied per test, and (when reachable) a PostgreSQL database
    that per-test databases are created from (CREATE DATABASE … TEMPLATE), instead of running the migrations in
    every test."""
    templates = {"sqlite": str(tmp_path_factory.mktemp("template") / "migrated.sqlite3")}
    asyncio.run(_migrate(Database(f"sqlite+aiosqlite:///{templates['sqlite']}")))
    if asyncio.run(_postgres_problem()) is None:
        templates["postgres"] = f"ocop_template_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{templates["postgres"]}"'))
        asyncio.run(_migrate(Database(_database_url(templates["postgres"]))))
    yield templates
    if "postgres" in templates:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{templates["postgres"]}" WITH (FORCE)'))


async def _migrate(db: Database) -> None:
    try:
        await db.upgrade()
    finally:
        await db.dispose()


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _database_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path,
             migrated_templates: dict[str, str]) -> AsyncIterator[Database]:
    """A database of each backend at the latest schema: a copy of the worker's migrated template."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(migrated_templates["sqlite"], path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        yield db
        await db.dispose()
        return
    async with own_postgres_database("ocop_test", template=migrated_templates.get("postgres")) as url:
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()


@asynccontextmanager
async def own_postgres_database(prefix: str, *, template: str | None = None) -> AsyncIterator[str]:
    """The URL of a PostgreSQL database of its own (a copy of ``template`` if given), dropped afterwards: for tests
    whose tools or processes work on whole databases (pg_dump, several replicas)."""
    await require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield _database_url(name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_db(tmp_path: Path, migrated_templates: dict[str, str]) -> AsyncIterator[Database]:
    """A migrated SQLite database, for tests whose subject is not the backend."""
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_templates["sqlite"], path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db
    await db.dispose()
