"""Test harness: every database test runs on SQLite and on PostgreSQL.

Each engine gets a fresh database per run, built by running the migrations (never
``create_all``) and loading the bundled regions. After each test the tables it may have written
are emptied; the reference data stays. Requests go through the ASGI app with httpx.

PostgreSQL is found at ``AIXIN_TEST_POSTGRES_URL`` (default: the local server, user postgres).
When it cannot be reached the PostgreSQL half is skipped with the reason, except under CI=true,
where it fails the run.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core import migrations
from app.core.db import make_engine
from app.core.models import metadata
from app.core.settings import Settings
from app.main import create_app
from app.regions import loader

pytest.register_assert_rewrite("tests.security.body_scan")
from tests.security import body_scan  # noqa: E402  (after its registration above)

pytest_plugins = ("tests.security.body_scan", "tests.races.summary", "tests.fuzz.summary")

POSTGRES_URL = os.environ.get(
    "AIXIN_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ("sqlite", "postgresql")
REFERENCE_TABLES = {"regions", "alembic_version"}
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(message: str, needed: str) -> NoReturn:
    """Skip the test for a missing service or tool; under CI=true, where it is required, fail."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: {needed} is required)", pytrace=False)
    pytest.skip(message)


def settings_for(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test app: cheap password hashing, a fixed key, no .env."""
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "data_key": TEST_SECRET + "-data",
        "index_key": TEST_SECRET + "-index",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "log_level": "WARNING",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


async def create_postgres_database() -> str:
    """A new, empty PostgreSQL database; its URL."""
    name = f"aixin_test_{uuid.uuid4().hex[:12]}"
    server = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}", "PostgreSQL")
    finally:
        await server.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    server = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await server.dispose()


@pytest.fixture(scope="session", params=ENGINES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh, empty database of each engine for this run."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'aixin.db'}"
        return
    url = await create_postgres_database()
    yield url
    await drop_postgres_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(database_url, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The migrated database with the bundled regions loaded."""
    engine = make_engine(settings)
    await migrations.upgrade(engine)
    async with engine.begin() as connection:
        await loader.upsert_regions(connection, loader.bundled_rows())
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.database.dispose()


async def empty_tables(engine: AsyncEngine) -> None:
    """Remove every row a test may have written, keeping the reference data."""
    tables = [t for t in metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                await connection.execute(table.delete())


@pytest.fixture
async def client(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[AsyncClient]:
    """An httpx client over the ASGI app; the written tables and rate limits are reset afterwards.

    Every body it receives is scanned for personal data (tests/security/body_scan.py).
    """
    transport = ASGITransport(app=app)
    hooks = body_scan.scanner(TEST_SECRET, engine)
    async with AsyncClient(
        transport=transport, base_url="http://aixin.test", event_hooks=hooks
    ) as http:
        yield http
    await empty_tables(engine)
    await app.state.rate_limits.reset()


# -- a closing line per engine, so the summary shows both halves ran ---------------------------

_outcomes: Counter[tuple[str, str]] = Counter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        engine = next((value for value in params if value in ENGINES), "no database")
        item.user_properties.append(("engine", engine))


# A test's engine, read from its id: "test_x[sqlite]", "test_y[postgresql-redis]".
_ENGINE_IN_ID = re.compile(r"\[(?:[^\]]*-)?(" + "|".join(ENGINES) + r")(?:-[^\]]*)?\]$")


# The long proofs (live servers, subprocesses, thousands of requests) form a second scope per
# engine, so that the two workers' loads even out: whichever is free takes the next scope.
_LONG_PROOFS = ("tests/races/", "tests/fuzz/", "tests/notifications/", "tests/photos/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n 2 --dist loadscope`` (make test): the tests of an engine run in two scopes (its
    long proofs apart), each in one worker, which builds that engine's database once; tests
    without a database go to any worker."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByEngine(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            found = _ENGINE_IN_ID.search(nodeid)
            if found is None:
                return nodeid
            long = nodeid.startswith(_LONG_PROOFS)
            return found.group(1) + (" (long proofs)" if long else "")

    return ByEngine(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        engine = dict(report.user_properties).get("engine", "no database")
        _outcomes[(str(engine), report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("tests per database engine")
    for engine in sorted({engine for engine, _ in _outcomes}):
        counts = ", ".join(
            f"{_outcomes[(engine, outcome)]} {outcome}"
            for outcome in ("passed", "failed", "skipped")
            if _outcomes[(engine, outcome)]
        )
        terminalreporter.write_line(f"{engine}: {counts}")
