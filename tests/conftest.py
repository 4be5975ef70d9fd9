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
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from tests import schedule  # noqa: E402
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


@dataclass
class Built:
    """An engine's database for this run, built once per worker process."""

    url: str
    settings: Settings | None = None
    engine: AsyncEngine | None = None
    app: FastAPI | None = None


@pytest.fixture(scope="session")
async def built() -> AsyncIterator[dict[str, Built]]:
    """Each engine's database, kept for the whole run.

    The fixtures below are parametrized by engine, and pytest tears a parametrized session
    fixture down whenever the next test wants the other engine; they take what is built from
    here, so a switch of engine costs nothing, and everything goes at the end of the run.
    """
    databases: dict[str, Built] = {}
    yield databases
    for name, database in databases.items():
        if database.app is not None:
            await database.app.state.database.dispose()
        if database.engine is not None:
            await database.engine.dispose()
        if name == "postgresql":
            await drop_postgres_database(database.url)


@pytest.fixture(scope="session", params=ENGINES)
async def database_url(
    request: pytest.FixtureRequest,
    built: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A fresh, empty database of each engine for this run."""
    name = str(request.param)
    if name not in built:
        if name == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'aixin.db'}"
        else:
            url = await create_postgres_database()
        built[name] = Built(url)
    return built[name].url


def built_for(built: dict[str, Built], url: str) -> Built:
    return next(database for database in built.values() if database.url == url)


@pytest.fixture(scope="session")
def settings(
    database_url: str, built: dict[str, Built], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    database = built_for(built, database_url)
    if database.settings is None:
        database.settings = settings_for(database_url, tmp_path_factory.mktemp("data"))
    return database.settings


@pytest.fixture(scope="session")
async def engine(settings: Settings, database_url: str, built: dict[str, Built]) -> AsyncEngine:
    """The migrated database with the bundled regions loaded."""
    database = built_for(built, database_url)
    if database.engine is None:
        engine = make_engine(settings)
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await loader.upsert_regions(connection, loader.bundled_rows())
        database.engine = engine
    return database.engine


@pytest.fixture(scope="session")
async def app(
    settings: Settings, engine: AsyncEngine, database_url: str, built: dict[str, Built]
) -> FastAPI:
    database = built_for(built, database_url)
    if database.app is None:
        database.app = create_app(settings)
    return database.app


async def empty_tables(engine: AsyncEngine) -> None:
    """Remove every row a test may have written, keeping the reference data.

    One query finds the tables that hold rows; only those are emptied, children first. (A
    TRUNCATE of every table costs PostgreSQL a new file per table, about 0.1 s a test.)
    """
    tables = [t for t in metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    probe = " UNION ALL ".join(
        f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM \"{table.name}\")" for table in tables
    )
    async with engine.begin() as connection:
        written = set((await connection.execute(text(probe))).scalars())
        for table in reversed(tables):
            if table.name in written:
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


# The deep proofs: ``make test-deep`` runs them (and CI, after ``make test``); ``make test``
# leaves them out to stay within its minutes. Most are a slower instance of a proof that
# ``make test`` makes too, named in the reason. A row is a test id's prefix and the parameters
# (the engine among them) a test must have to be deep. Where ``make test`` keeps one engine of a
# proof, it keeps PostgreSQL's: it refuses what SQLite lets through (NUL bytes, integers past 32
# bits) and it runs the races with writers at once.
DEEP: dict[tuple[str, frozenset[str]], str] = {
    ("tests/test_image.py::", frozenset()): (
        "the image without a Docker engine: its wheelhouse, virtualenv and server (a minute)"
    ),
    ("tests/fuzz/test_openapi_fuzz.py::", frozenset()): (
        "schemathesis on every operation: boundary cases, and random cases for every role "
        "(make test: the hostile input on every operation, and the linked walks)"
    ),
    ("tests/fuzz/test_hostile_input.py::", frozenset({"sqlite"})): (
        "the hostile input on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/security/test_access_matrix.py::test_every_role_gets", frozenset({"sqlite"})): (
        "every role on every operation on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/security/test_access_matrix.py::test_housing_and_industry", frozenset()): (
        "every role on every need operation for housing and industry needs by name (make test: "
        "every operation with the categories in rotation, and each one's life and cap)"
    ),
    # Refusing a field outside a body's schema is the schema's work, the same on both engines:
    # make test keeps the SQLite half, so that its two workers (one an engine) share the time.
    ("tests/security/test_mass_assignment.py::test_a_body_with", frozenset({"postgresql"})): (
        "every body with a field outside its schema on PostgreSQL (make test: on SQLite)"
    ),
    # On SQLite a direct read is SQLAlchemy's own: comparing it with SQLAlchemy is a formality.
    ("tests/core/test_direct.py::test_each_hot_read", frozenset({"sqlite"})): (
        "every hot read's rows against SQLAlchemy's on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/fuzz/test_stateful.py::", frozenset({"sqlite"})): (
        "the linked walks on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/fuzz/test_cursors.py::", frozenset({"sqlite"})): (
        "forged cursors on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/funds/test_ledger_stateful.py::", frozenset({"sqlite"})): (
        "the ledger's random steps on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/core/test_scope.py::test_where_selects_exactly", frozenset({"sqlite"})): (
        "every scope prefix's region query on SQLite (make test: on PostgreSQL)"
    ),
    ("tests/core/test_rate_limits.py::", frozenset({"sqlite"})): (
        "the limits on SQLite, counted in memory and in Redis (make test: both, on PostgreSQL)"
    ),
    ("tests/needs/test_concurrent_claims.py::test_200", frozenset({"sqlite"})): (
        "200 claims at once on SQLite, which runs one writer at a time (make test: on PostgreSQL)"
    ),
    ("tests/races/test_races.py::test_1000_claims_on_50_needs", frozenset()): (
        "1,000 claims (make test: 200 claims, tests/needs/test_concurrent_claims.py)"
    ),
    ("tests/notifications/test_worker.py::test_two_workers_deliver_1000", frozenset()): (
        "two workers and 1,000 events (make test: a worker killed mid-delivery)"
    ),
    ("tests/test_migrations.py::test_going_below_each_migration_with_data", frozenset()): (
        "each migration's downgrade with data (make test: the round trip with data)"
    ),
    ("tests/core/test_docs.py::test_swagger_ui_", frozenset()): (
        "/docs rendered in chromium offline, and its screenshot (make test: every asset the "
        "page names is served from this origin, and the console's story in chromium)"
    ),
    ("tests/core/test_docs.py::test_redoc_", frozenset()): (
        "/redoc rendered in chromium offline (make test: its assets, as for /docs)"
    ),
    ("tests/helpers/test_races.py::", frozenset()): (
        "helper assignments raced through a uvicorn of three workers (make test: a replacement "
        "keeps one current helper a role, the partial unique index, through the API)"
    ),
    ("tests/programmes/test_races.py::", frozenset()): (
        "every pair of a programme pairing's actions raced through a uvicorn of three workers "
        "(make test: each action and its 409 through the API)"
    ),
    ("tests/races/test_payments.py::test_race", frozenset()): (
        "every pair of a sponsorship payment's actions, the pairing's termination included, "
        "raced through a uvicorn of three workers (make test: each step, its 409 and its "
        "posting through the API, tests/programmes/test_payments.py)"
    ),
    ("tests/test_simulation.py::", frozenset({"postgresql"})): (
        "the simulated season and its determinism on PostgreSQL (make test: on SQLite)"
    ),
    ("tests/test_migrations.py::test_a_round_trip_with_data", frozenset({"postgresql"})): (
        "the round trip with data on PostgreSQL (make test: on SQLite, whose batch migrations "
        "copy every table; and PostgreSQL's round trip without data)"
    ),
}


def deep_reason(nodeid: str, tags: set[str]) -> str | None:
    """Why the test ``nodeid`` with the parameters ``tags`` is a deep proof; None if it is not."""
    for (prefix, needed), reason in DEEP.items():
        if nodeid.startswith(prefix) and needed <= tags:
            return reason
    return None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each scope's seconds into tests/durations.json (make durations)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(schedule.Recorder(schedule.DURATIONS), "durations")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by the markers given here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        engine = next((value for value in params if value in ENGINES), "no database")
        item.user_properties.append(("engine", engine))
        tags = {value for value in params if isinstance(value, str)}
        if deep_reason(item.nodeid, tags) is not None:
            item.add_marker(pytest.mark.deep)


@pytest.hookimpl(tryfirst=True)  # before an xdist worker sends its collection to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    """In an xdist worker (``make test``) the collection, and so the order the controller hands
    out the scopes in, is longest first (tests/schedule.py); every worker sorts it alike."""
    if hasattr(session.config, "workerinput"):
        session.items[:] = schedule.longest_first(session.items, schedule.recorded())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n 2 --dist loadscope`` (make test): a scope is a test file on one engine, so that a
    module's fixtures (a live server, a seeded world) are built once in one worker, and each
    worker builds each engine's database once. The scopes come in the collection's order, which
    ``pytest_collection_modifyitems`` made longest first (tests/schedule.py)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # xdist's own order is by number of tests

    class ByEngine(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return schedule.scope_of(nodeid)

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
