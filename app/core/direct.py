"""Statements that are a transaction by themselves: on PostgreSQL, run on the driver's connection.

A route that answers from one statement (``GET /me``, a page of needs, one need) needs no
session and no transaction; nor does the ``Idempotency-Key`` of a write, claimed, completed or
released by one statement each (:mod:`app.core.idempotency`). On PostgreSQL, SQLAlchemy's way of
running a statement (a session or a connection, the execution context, the result, each step a
hop to a greenlet and back) costs about three times the statement's own work in the driver:
about 400 µs of CPU against 140 µs, measured in process. So here a statement is compiled once
for the engine's dialect and kept with what converts its parameters and columns; each run checks
a connection out of the engine's own pool (the pool's ping of an idle connection and the breaker
on a new one apply as to any other), runs the SQL on asyncpg's connection as one statement (so
committed when it has run, without BEGIN and COMMIT, each an extra round trip), converts each
value as SQLAlchemy would, and checks the connection back in. The connection's command timeout
bounds the statement as it bounds every other.

A failure is raised as SQLAlchemy raises it, a :class:`~sqlalchemy.exc.DBAPIError` carrying the
driver's error (an :class:`~sqlalchemy.exc.IntegrityError` for a key that refuses a write), so it
is answered as every other database error (503 when the database cannot serve, 500 for a bug).
A connection that was lost, failed or timed out mid-statement is in an unknown state: it is
dropped with the pool's other connections of that moment, as SQLAlchemy drops them on a
disconnect (:mod:`app.core.breaker`).

SQLite runs in this process, where SQLAlchemy's path costs no round trip: there a read is an
ordinary statement on a connection of the engine, and a write a write transaction of its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only, greenlet_spawn

from app.core.errors import database_unreachable

Convert = Callable[[Any], Any]
_INTEGRITY_CLASS = "23"  # SQLSTATE's class of a constraint that refuses a write


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement as the driver runs it: its SQL, and how each value goes in and comes out."""

    sql: str
    # The positional arguments with the values the statement carries itself already converted;
    # the named parameters given at each read go in at their positions, converted.
    arguments: tuple[Any, ...]
    parameters: tuple[tuple[int, str, Convert | None], ...]
    # The columns whose values SQLAlchemy converts (a timestamp's zone, say), by position; the
    # driver's value of any other column is SQLAlchemy's as it is.
    columns: tuple[tuple[int, Convert], ...]

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for a read with ``values`` (every named parameter)."""
        arguments = list(self.arguments)
        for position, name, convert in self.parameters:
            value = values[name]
            arguments[position] = value if convert is None else convert(value)
        return arguments

    def row(self, record: Sequence[Any]) -> tuple[Any, ...]:
        """A row of the driver as SQLAlchemy returns it (each value through its column's type)."""
        if not self.columns:
            return tuple(record)
        values = list(record)
        for position, convert in self.columns:
            value = values[position]
            if value is not None:
                values[position] = convert(value)
        return tuple(values)


def prepare(statement: Executable, dialect: Dialect) -> Prepared:
    """``statement`` (a SELECT, or an INSERT, UPDATE or DELETE with or without RETURNING)
    compiled for ``dialect`` (a positional one: asyncpg's ``$1``)."""
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    named = {name for name, bind in compiled.binds.items() if bind.required}
    if any(compiled.binds[name].expanding for name in named):
        # An IN list given at each read would change the SQL from read to read.
        raise TypeError("a prepared read takes no list parameters; put the list in the statement")
    # The lists the statement carries (IN of its own values) are expanded once, here.
    expanded = compiled.construct_expanded_state(dict.fromkeys(named))
    origin = {new: old for old, news in expanded.parameter_expansion.items() for new in news}
    arguments: list[Any] = []
    parameters: list[tuple[int, str, Convert | None]] = []
    for position, name in enumerate(expanded.positiontup or ()):
        bind = compiled.binds[origin.get(name, name)]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in named:
            arguments.append(None)
            parameters.append((position, name, convert))
        else:
            value = expanded.parameters[name]
            arguments.append(value if convert is None else convert(value))
    columns = tuple(
        (position, found)
        for position, column in enumerate(_columns(statement))
        if (found := _result_processor(str(column.key), column.type, dialect))
    )
    return Prepared(expanded.statement, tuple(arguments), tuple(parameters), columns)


def _columns(statement: Executable) -> Sequence[Any]:
    """The columns ``statement`` returns: a SELECT's, or the RETURNING of a write."""
    return list(getattr(statement, "exported_columns", ()))


def _result_processor(key: str, type_: Any, dialect: Dialect) -> Convert | None:
    """What converts the driver's values of a column of ``type_`` (None: nothing to do)."""
    try:
        convert: Convert | None = type_.dialect_impl(dialect).result_processor(dialect, None)
    except (TypeError, SQLAlchemyError) as exc:
        # A numeric column is converted by the type the driver reports for it, which only a
        # statement's run tells: such a statement is read through SQLAlchemy.
        raise TypeError(f"column {key!r} ({type_}) is converted by the driver's type") from exc
    return convert


class Direct:
    """Runs statements that are a transaction by themselves on ``engine`` (see the module's
    text); ``write_engine`` is the engine of the writes on SQLite (their BEGIN IMMEDIATE)."""

    def __init__(self, engine: AsyncEngine, write_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.write_engine = write_engine or engine
        self.on_driver = engine.dialect.driver == "asyncpg"
        # Kept for as long as their statements are (the hot statements keep theirs).
        self._prepared: weakref.WeakKeyDictionary[Executable, Prepared] = (
            weakref.WeakKeyDictionary()
        )

    async def read(
        self, statement: Select[Any], parameters: Mapping[str, Any], *, keep: bool = True
    ) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` with ``parameters``. ``keep=False`` for a statement built
        for this read alone (compiling it for the driver would cost more than it saves)."""
        if not self.on_driver or not keep:
            async with self.engine.connect() as connection:
                result = await connection.execute(statement, parameters)
                return [tuple(row) for row in result.all()]
        return await self._run(statement, parameters)

    async def write(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run ``statement`` (an INSERT, UPDATE or DELETE) with ``parameters``, committed when
        it has run; the rows it returns (its RETURNING), if any. A unique or foreign key that
        refuses it raises :class:`~sqlalchemy.exc.IntegrityError`, as SQLAlchemy does."""
        if not self.on_driver:
            async with self.write_engine.begin() as connection:
                result = await connection.execute(statement, parameters)
                return [tuple(row) for row in result.all()] if result.returns_rows else []
        return await self._run(statement, parameters)

    async def _run(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = prepare(statement, self.engine.dialect)
        arguments = prepared.bind(parameters)
        # Check-out, statement and check-in in one greenlet: each hop to a greenlet and back
        # costs about 10 µs of CPU, a third of what the pool's check-out and check-in cost.
        records = await greenlet_spawn(self._fetch, prepared.sql, arguments)
        return [prepared.row(record) for record in records]

    def _fetch(self, sql: str, arguments: list[Any]) -> list[Any]:
        """The statement's records, on a connection of the pool (on a greenlet: the pool's
        check-out may connect or ping, and its check-in close, each waiting on the driver)."""
        try:
            pooled = self.engine.sync_engine.raw_connection()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            # A connection that could not be made (the breaker's probe among them) is the
            # driver's error here, not SQLAlchemy's as through a session: raised as the same.
            raise DBAPIError(sql, None, exc, connection_invalidated=True) from exc
        driver: Any = pooled.driver_connection  # asyncpg's own Connection
        try:
            return cast(list[Any], await_only(driver.fetch(sql, *arguments)))
        except Exception as exc:
            raise self._failed(pooled, sql, exc) from exc
        except BaseException:
            # Cancelled mid-statement: the connection may still be answering it.
            pooled.invalidate()
            raise
        finally:
            # Should the pool close the connection (overflow, invalidated), closing it waits
            # on the driver.
            pooled.close()

    def _failed(self, pooled: Any, sql: str, exc: Exception) -> DBAPIError:
        """The error a failed statement raises; the connection dropped if it cannot be
        trusted."""
        server_refused = hasattr(exc, "sqlstate") and not database_unreachable(exc)
        if str(getattr(exc, "sqlstate", "")).startswith(_INTEGRITY_CLASS):
            return IntegrityError(sql, None, exc)
        error = DBAPIError(sql, None, exc, connection_invalidated=not server_refused)
        if not server_refused:
            # As SQLAlchemy handles a disconnect: this connection and every other the pool made
            # before now are replaced (they belong to the same server, which just failed one).
            self.engine.sync_engine.pool._invalidate(pooled, exc)
        return error
