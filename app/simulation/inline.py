"""SQLite without a thread hop: the simulation's database calls run on its own event loop.

aiosqlite runs each call of a connection in a thread of its own and hands the result back to
the event loop, so that a server's other requests go on while SQLite works. The simulation is
one task that awaits every call in turn; there the hand-over is pure cost (two thread switches
per statement, each waiting for a core on a busy machine). `run_inline` has the engine's new
connections run each call directly: the same sqlite3 connection, the same statements, the same
transactions, savepoints and pragmas, in the same order.

SQLAlchemy's adapter of aiosqlite still awaits each cursor call (open, execute, fetch, close)
through a switch of greenlets and a lock, three or four times a statement, for calls that
here finish at once. The adapter's cursor and connection are therefore given their sqlite3
counterparts to call directly (`InlineCursor`, `InlineAdapted`): the same calls on the same
sqlite3 cursor, with the adapter's handling of errors.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT

from app.core.db import Database


class _RunNow:
    """Stands in for the connection's queue to its thread: runs each call as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the caller, as the thread would
            if future is not None and not future.done():
                future.set_exception(exc)
        else:
            if future is not None and not future.done():
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return partial(fn, *args, **kwargs)()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineConnection:
    """`aiosqlite.connect`, inline."""
    return InlineConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size)


class _Driver:
    """The aiosqlite module as the engine's DBAPI adapter uses it after connecting: `connect`."""

    Connection = InlineConnection
    connect = staticmethod(connect)


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor over the sqlite3 cursor itself: each call is made at once."""

    __slots__ = ()

    def __init__(self, adapt_connection: InlineAdapted) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = adapt_connection.sqlite().cursor()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        cursor: Any = self._cursor
        try:
            if parameters is None:
                result = cursor.execute(operation)
            else:
                result = cursor.execute(operation, parameters)
            if cursor.description:
                self._rows = collections.deque(cursor.fetchall())
            return result
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        cursor: Any = self._cursor
        try:
            return cursor.executemany(operation, seq_of_parameters)
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        self._soft_closed_memoized = self._soft_closed_memoized.union(
            {"description": self._cursor.description}
        )
        self._close_now()

    def close(self) -> None:
        self._rows.clear()
        if not self._soft_closed_memoized:
            self._close_now()

    def _close_now(self) -> None:
        cursor: Any = self._cursor
        cursor.close()


class InlineAdapted(AsyncAdapt_aiosqlite_connection):
    """The adapter's connection whose cursors, commits and rollbacks call sqlite3 directly."""

    __slots__ = ()
    _cursor_cls = InlineCursor  # type: ignore[assignment]

    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection underneath."""
        connection: Any = self._connection
        return connection._conn  # type: ignore[no-any-return]

    def commit(self) -> None:
        self._end(sqlite3.Connection.commit)

    def rollback(self) -> None:
        self._end(sqlite3.Connection.rollback)

    def _end(self, end: Callable[[sqlite3.Connection], None]) -> None:
        # As the adapter does: nothing to end on a connection already closed.
        if self._connection._connection:
            try:
                end(self.sqlite())
            except Exception as error:
                self._handle_exception(error)


def _connect_adapted(dbapi: Any, *args: Any, **kwargs: Any) -> InlineAdapted:
    """The adapter's `connect`: an inline connection, opened at once, in `InlineAdapted`."""
    connection: Any = connect(*args, **kwargs)
    connection._connection = connection._connector()
    return InlineAdapted(dbapi, connection)


def run_inline(database: Database) -> None:
    """Have ``database``'s SQLite engine open inline connections (before its first one)."""
    dbapi: Any = database.engine.sync_engine.dialect.dbapi
    if database.engine.dialect.name == "sqlite" and hasattr(dbapi, "aiosqlite"):
        dbapi.aiosqlite = _Driver
        dbapi.connect = partial(_connect_adapted, dbapi)
