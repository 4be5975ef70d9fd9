"""Migrations are the only source of the schema, and they agree with the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import migrations
from app.core.db import make_engine
from app.core.models import metadata
from app.core.settings import Settings
from tests.conftest import create_postgres_database, drop_postgres_database, settings_for


def _schema_diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_models_and_migrations_describe_the_same_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_diff) == []


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """A database of its own, so that going down to base disturbs no other test."""
    if request.param == "sqlite":
        yield settings_for(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", tmp_path)
        return
    url = await create_postgres_database()
    yield settings_for(url, tmp_path)
    await drop_postgres_database(url)


async def test_upgrade_downgrade_upgrade_round_trip(empty_database: Settings) -> None:
    engine = make_engine(empty_database)
    try:
        await migrations.upgrade(engine)
        assert await migrations.current_revisions(engine) == migrations.head_revisions()
        async with engine.connect() as connection:
            tables = await connection.run_sync(_table_names)
        assert {table.name for table in metadata.sorted_tables} <= tables

        await migrations.downgrade(engine, "base")
        assert await migrations.current_revisions(engine) == set()
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) <= {"alembic_version"}

        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def test_migration_files_follow_the_naming_rule() -> None:
    names = [p.name for p in (migrations.migrations_dir() / "versions").glob("*.py")]
    assert names
    for name in names:
        stamp, _, slug = name.removesuffix(".py").partition("_")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{4}", stamp), name
        assert re.fullmatch(r"[a-z0-9_]+", slug), name
