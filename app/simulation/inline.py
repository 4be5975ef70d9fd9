"""SQLite without a thread hop: the simulation's database calls run on its own event loop.

aiosqlite runs each call of a connection in a thread of its own and hands the result back to
the event loop, so that a server's other requests go on while SQLite works. The simulation is
one task that awaits every call in turn; there the hand-over is pure cost (two thread switches
per statement, each waiting for a core on a busy machine). `run_inline` has the engine's new
connections run each call directly: the same sqlite3 connection, the same statements, the same
transactions, savepoints and pragmas, in the same order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

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


def run_inline(database: Database) -> None:
    """Have ``database``'s SQLite engine open inline connections (before its first one)."""
    dbapi: Any = database.engine.sync_engine.dialect.dbapi
    if database.engine.dialect.name == "sqlite" and hasattr(dbapi, "aiosqlite"):
        dbapi.aiosqlite = _Driver
