"""Running the Alembic migrations from code (``aixin migrate``, /readyz, the tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import app

PROJECT_ROOT = Path(app.__file__).resolve().parent.parent
# The key of the PostgreSQL advisory lock that a migration holds ("aixin-mg" as a bigint), so that
# replicas starting together migrate one after another; the later ones then find the head.
MIGRATION_LOCK_KEY = int.from_bytes(b"aixin-mg", "big")


def migrations_dir() -> Path:
    """The migrations folder: beside the package in a checkout or image, else the cwd's."""
    for candidate in (PROJECT_ROOT / "migrations", Path.cwd() / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("the migrations folder was not found")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    # On the driver's connection, outside any transaction: SQLite ignores this pragma inside one.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        raise RuntimeError(f"the migration leaves rows that refer to nothing: {dangling[:5]}")


async def run_in_transaction(engine: AsyncEngine, migrate: Callable[[Connection], None]) -> None:
    """Run ``migrate`` in one transaction on a connection of ``engine``.

    On SQLite, batch mode recreates a table to alter it, and dropping a table that other rows
    refer to fails while foreign keys are enforced; so, as SQLite's ALTER TABLE procedure
    prescribes, enforcement is off during the migration, every reference is checked before it
    commits, and enforcement is back on before the connection returns to the pool.

    On PostgreSQL the transaction first takes the migrations' advisory lock (released when it
    ends), so that two processes never migrate one database at once.
    """
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            await connection.run_sync(_sqlite_foreign_keys, False)
        try:
            async with connection.begin():
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                await connection.run_sync(migrate)
                if sqlite:
                    await connection.run_sync(_check_foreign_keys)
        finally:
            if sqlite:
                await connection.run_sync(_sqlite_foreign_keys, True)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await run_in_transaction(engine, lambda connection: _upgrade(connection, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await run_in_transaction(engine, lambda connection: _downgrade(connection, revision))


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
