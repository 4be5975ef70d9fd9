"""The database: declarative base, engine, and the one-transaction-per-request session.

Services receive an :class:`~sqlalchemy.ext.asyncio.AsyncSession` and only ``flush``; the request's
session dependency commits when the route returns and rolls back on any exception, so a failed
request leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.core import breaker, statements
from app.core.direct import Direct
from app.core.errors import AppError
from app.core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "aixin_write"
WRITES_MARK = "_aixin_writes"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that writes (an access log, say): its transaction is a write one."""
    setattr(endpoint, WRITES_MARK, True)
    return endpoint


# A 64-bit key on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both engines (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_clock: ContextVar[dt.datetime | None] = ContextVar("aixin_clock", default=None)


def utcnow() -> dt.datetime:
    """The current time in UTC: the wall clock, or the simulated clock inside `clock_at`."""
    simulated = _clock.get()
    return simulated if simulated is not None else dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Make `utcnow` return ``moment`` in this context (the simulation's clock)."""
    if moment.tzinfo is None:
        raise ValueError("the simulated clock needs an aware datetime")
    token = _clock.set(moment.astimezone(dt.UTC))
    try:
        yield
    finally:
        _clock.reset(token)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control from the driver so that BEGIN is emitted exactly when
    # SQLAlchemy begins (savepoints and transactional DDL then work as on PostgreSQL).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A write transaction takes the write lock up front (IMMEDIATE): otherwise two transactions
    # that both read first and then write would fail with SQLITE_BUSY instead of waiting.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    statements.driver_sql(connection, "BEGIN IMMEDIATE" if immediate else "BEGIN")


def _savepoints_as_text(engine: AsyncEngine) -> None:
    """Have ``engine`` emit SAVEPOINT, RELEASE and ROLLBACK TO as plain SQL.

    SQLAlchemy names each savepoint anew (sa_savepoint_1, _2, …) and compiles the clause again
    for every name, since no two are alike; a savepoint around each step of a busy service (or
    each action of the simulation) made that compiling a measurable share of the step. The text
    is the same the compiler writes; on SQLite it goes to the DB-API cursor as a kept statement
    does (:func:`app.core.statements.driver_sql`: SQLAlchemy's own errors, and its way where
    someone listens to the cursor), elsewhere through the connection.
    """
    dialect = engine.sync_engine.dialect
    preparer: Any = dialect.identifier_preparer

    def sql(verb: str) -> Callable[[Connection, str], None]:
        def emit(connection: Connection, name: str) -> None:
            statements.driver_sql(connection, f"{verb} {preparer.format_savepoint(None, name)}")

        return emit

    # The dialect instance is this engine's own: other engines keep SQLAlchemy's way.
    dialect.do_savepoint = sql("SAVEPOINT")  # type: ignore[assignment]
    dialect.do_release_savepoint = sql("RELEASE SAVEPOINT")  # type: ignore[assignment]
    dialect.do_rollback_to_savepoint = sql("ROLLBACK TO SAVEPOINT")  # type: ignore[assignment]


def make_engine(settings: Settings, *, command_timeout: float | None = None) -> AsyncEngine:
    """An async engine for ``settings.database_url`` with the service's connection rules.

    ``command_timeout`` bounds each PostgreSQL statement, in seconds (None: no bound, as a
    migration building an index on a large table needs).
    """
    url = settings.database_url
    if settings.is_sqlite:
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time: a small pool, and requests wait their turn for it.
        engine = create_async_engine(
            url,
            echo=settings.db_echo,
            pool_size=5,
            max_overflow=5,
            pool_timeout=30,
            # Each connection keeps its prepared statements: the kept ones, and the savepoints of
            # a long transaction (each name a statement of its own), outnumber the default 128.
            connect_args={"timeout": 30, "cached_statements": 1024},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        _savepoints_as_text(engine)
        return engine
    engine = create_async_engine(
        url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # The connection used last is used next: busy ones stay fresh (no ping), and the
        # rest rest long enough to be pinged, or closed by the server's idle timeout.
        pool_use_lifo=True,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": command_timeout,
        },
    )
    event.listen(engine.sync_engine, "connect", _mark_used)
    event.listen(engine.sync_engine, "checkin", _mark_used)
    event.listen(engine.sync_engine, "checkout", _ping_when_idle)
    _savepoints_as_text(engine)
    return engine


# A pooled connection that has rested this long is pinged before use: the server may have gone
# away meanwhile (restarted, failed over). One used moments ago is not, saving the ping's three
# round trips (BEGIN, a statement, ROLLBACK) on a busy service; should its server die in that
# moment, the request fails as one in flight would (503) and the pool drops the connection.
PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "aixin_last_used"


def _mark_used(dbapi_connection: Any, record: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _ping_when_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    last_used = record.info.get(_LAST_USED)
    if last_used is not None and time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        # The pool drops this connection and checks out another (a new one if need be).
        raise DisconnectionError(f"the pooled connection failed its ping: {exc}") from exc


class Database:
    """An engine and its session factory, owned by one application instance."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings, command_timeout=settings.db_command_timeout_seconds)
        if not settings.is_sqlite:
            breaker.install(self.engine, settings.db_connect_timeout_seconds)
        # Reads and writes share the pool; writes begin IMMEDIATE on SQLite (no-op elsewhere).
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.write_sessionmaker = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # Statements that are a transaction by themselves (app.core.direct): on PostgreSQL
        # without BEGIN and COMMIT (two round trips fewer) and without a session.
        self.direct = Direct(self.engine, self.write_engine)

    async def dispose(self) -> None:
        await self.engine.dispose()


_MARK_KEY_COMMITTED = text("UPDATE idempotency_keys SET state = 'committed' WHERE id = :id")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit on success, roll back on error."""
    database: Database = request.app.state.database
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    reads_only = request.method in SAFE_METHODS and not getattr(endpoint, WRITES_MARK, False)
    factory = database.sessionmaker if reads_only else database.write_sessionmaker
    async with factory() as session:
        try:
            yield session
        except AppError as exc:
            await (session.commit() if exc.keeps_writes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            key_id = getattr(request.state, "idempotency_key_id", None)
            if key_id is not None:
                # The request's Idempotency-Key is marked in its own transaction, so the mark
                # commits exactly when its writes do (app.core.idempotency).
                await session.execute(_MARK_KEY_COMMITTED, {"id": key_id})
            await session.commit()


async def get_direct(request: Request) -> Direct:
    """What a route that answers from one statement reads with (no session)."""
    database: Database = request.app.state.database
    return database.direct


DirectDep = Annotated[Direct, Depends(get_direct)]


# scope="function": the commit runs when the route returns, before the response is sent, so a
# commit that fails becomes an error response instead of a success that was never stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
