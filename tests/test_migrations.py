"""The Alembic migrations are the schema: they match the models and go down and up again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.db import Database
from models.schema import metadata


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_to_base_and_upgrade_again(db: Database) -> None:
    await db.downgrade("base")
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert set(tables) <= {"alembic_version"}
    await db.upgrade()
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert {"product", "producer", "app_user", "identity", "buyer_profile"} <= set(tables)
