"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS = Path(__file__).with_name("migrations")
# Server connections are replaced after half an hour, before idle timeouts of proxies and poolers end them for us.
RECYCLE_SECONDS = 1800


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """One engine and its session factory; ``schema`` isolates a PostgreSQL database (tests, tenants).

    A server database may end our connections (a restart, a failover, pg_terminate_backend): the pool tests each
    connection as it hands it out (pre-ping) and replaces a dead one, so the next piece of work never fails on it.

    Statements are logged (at DEBUG, and in errors) without their parameters: they hold the Zalo OA tokens the bot
    obtains at run time and people's phone numbers, and SQLAlchemy cuts long values in the middle, which would let
    part of a token through the log redaction.
    """

    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None) -> None:
        self.url = make_url(url)
        self.schema = schema
        connect_args: dict[str, Any] = {}
        pool: dict[str, Any] = {}
        if self.url.get_backend_name() == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = 30
        else:
            pool = {"pool_pre_ping": True, "pool_recycle": RECYCLE_SECONDS}
            if schema:
                connect_args["server_settings"] = {"search_path": f"{schema},public"}
        self.engine: AsyncEngine = create_async_engine(
            self.url, echo=echo, hide_parameters=True, connect_args=connect_args, **pool
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden: the only form that may be logged."""
        return self.url.render_as_string(hide_password=True)

    def session(self) -> AsyncSession:
        return self._sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision``."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_alembic, "upgrade", revision)

    async def downgrade(self, revision: str) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_alembic, "downgrade", revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _run_alembic(connection: Connection, action: str, revision: str) -> None:
    getattr(command, action)(alembic_config(connection), revision)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
    cursor.close()
