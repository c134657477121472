"""PostgreSQL may end our connections (a restart, a failover, an administrator, an idle timeout): the next piece of
work gets a fresh connection, not the dead one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from models.db import Database
from tests.conftest import _asyncpg_dsn, drop_postgres, make_postgres, require_postgres


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    await require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    db = await make_postgres(schema)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()
        await drop_postgres(schema)


async def backend_pid(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.exec(text("SELECT pg_backend_pid()"))).scalar_one())  # type: ignore[call-overload]


async def test_a_connection_the_server_killed_is_replaced(postgres: Database) -> None:
    pid = await backend_pid(postgres)  # the pool now holds this connection, idle
    admin = await asyncpg.connect(_asyncpg_dsn())
    try:
        # the second argument waits (up to 10 s) until the backend has really gone
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid) is True
    finally:
        await admin.close()
    async with postgres.transaction() as session:  # the next update's work: it must not fail
        count = (await session.exec(text("SELECT count(*) FROM producer"))).scalar_one()  # type: ignore[call-overload]
    assert count == 0
    assert await backend_pid(postgres) != pid
