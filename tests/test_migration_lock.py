"""Replicas that start together: concurrent ``aixin migrate`` runs on one fresh PostgreSQL.

Each holds the migrations' advisory lock while it migrates, so the first builds the schema and
the others, once it has committed, find the head and do nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.migrations import head_revisions
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.test_cli import AIXIN, Target

pytestmark = pytest.mark.postgresql_only

REPLICAS = 3


@pytest.fixture
async def fresh_postgres(tmp_path: Path) -> AsyncIterator[Target]:
    url = await create_postgres_database()
    yield Target(url, tmp_path)
    await drop_postgres_database(url)


async def _migrate(target: Target) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(AIXIN),
        "migrate",
        env=target.env(),
        cwd=target.workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_replicas_migrating_at_once_all_succeed_and_leave_one_head(
    fresh_postgres: Target,
) -> None:
    results = await asyncio.gather(*(_migrate(fresh_postgres) for _ in range(REPLICAS)))

    (head,) = head_revisions()
    for returncode, stdout, stderr in results:
        assert (returncode, stdout) == (0, f"database at revision {head}\n"), stderr
    engine = fresh_postgres.engine()
    try:
        async with engine.connect() as connection:
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [head]
    finally:
        await engine.dispose()
