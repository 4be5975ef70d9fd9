"""Kept Core statements, run on the session's connection without the ORM's per-statement work.

A statement built once (a compare-and-set, a count, an event's insert) names no entity to load,
yet ``session.execute`` prepares each one for the ORM all the same, which costs more than the
statement itself on the hot paths. :func:`run` flushes what the session holds first, as the
session does before each statement, so the statement sees every change made so far; then it
runs the statement on the transaction's connection and hands back what it returned, read at
once: its rows if it returns rows, else how many rows it changed.

On SQLite a kept statement is compiled once, with the processors of its parameters' and
columns' types, and each execution goes to the DB-API cursor of the transaction's connection
with the values bound as SQLAlchemy binds them (the same SQL, the same values, the same rows):
the execution context, result object and events SQLAlchemy builds around every statement cost
several times what SQLite spends on these. A statement whose SQL depends on its values (an IN
list expanded at execution) runs through SQLAlchemy, as does every statement of an engine that
echoes its SQL or has listeners of its cursor's executions; errors are raised as SQLAlchemy
raises them. :func:`driver_sql` does the same for the savepoints and BEGIN of SQLite
(:mod:`app.core.db`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Executable, literal_column
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a statement returned: its rows (none for a statement that returns none), and the
    count of rows it changed (an UPDATE's or DELETE's)."""

    rows: Sequence[tuple[Any, ...]]
    rowcount: int

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows else None


# Where a session keeps its transaction's connection, and the transaction it belongs to.
_CONNECTION = "aixin_statements_connection"


def _connection(session: Session) -> Connection:
    """The connection of the session's transaction: asked of the session once per transaction
    and savepoint, not at each statement (a savepoint begins on its first request)."""
    current = session.get_nested_transaction() or session.get_transaction()
    held: tuple[Any, Connection] | None = session.info.get(_CONNECTION)
    if current is not None and held is not None and held[0] is current:
        return held[1]
    connection = session.connection()
    session.info[_CONNECTION] = (
        session.get_nested_transaction() or session.get_transaction(),
        connection,
    )
    return connection


Processor = Callable[[Any], Any] | None


def constant(value: str) -> ColumnElement[Any]:
    """``value``, a fixed word (a state's name), written into a kept statement's SQL rather than
    bound: SQLite plans a statement again at every execution when a bound value might let it
    use a partial index (the open needs', the holding and proposed pairings'), which costs
    several times the statement itself."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain word: {value!r}")
    return literal_column(f"'{value}'")


@dataclass(frozen=True, slots=True)
class _Direct:
    """A kept statement compiled for SQLite: its SQL, its parameters in order with their
    processors, and its result columns' processors (None: it returns no rows)."""

    compiled: SQLCompiler
    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...] | None


_DIRECT: dict[Any, _Direct | None] = {}


def _bind_processor(kind: Any, dialect: Dialect) -> Processor:
    return kind.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _direct(
    statement: Executable, dialect: Dialect, parameters: Mapping[str, Any]
) -> _Direct | None:
    """``statement`` compiled for the DB-API cursor, once for the names of the values it is
    given (an INSERT writes the columns given); None where SQLAlchemy must run it."""
    key = (statement, tuple(parameters))
    if key in _DIRECT:
        return _DIRECT[key]
    found: _Direct | None = None
    compiled = cast(
        SQLCompiler,
        statement.compile(dialect=dialect, column_keys=list(parameters)),  # type: ignore[attr-defined]
    )
    if (
        compiled.positional
        and compiled.positiontup is not None
        and not (compiled.post_compile_params or compiled.literal_execute_params)
    ):
        types = {name: bind.type for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup)
        columns = getattr(statement, "exported_columns", ())
        returns = getattr(statement, "is_select", False) or bool(columns)
        found = _Direct(
            compiled=compiled,
            sql=compiled.string,
            names=names,
            binds=tuple(
                types[name].dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
            if returns
            else None,
        )
    if len(_DIRECT) > 4096:  # kept statements are few; anything else is not kept here
        _DIRECT.clear()
    _DIRECT[key] = found
    return found


def _run_direct(connection: Connection, direct: _Direct, parameters: Mapping[str, Any]) -> Outcome:
    values = direct.compiled.construct_params(parameters)
    bound = [
        value if process is None else process(value)
        for value, process in zip(
            (values[name] for name in direct.names), direct.binds, strict=True
        )
    ]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(direct.sql, bound)
        rows: Sequence[tuple[Any, ...]] = ()
        if direct.results is not None:
            processors = direct.results
            rows = [
                tuple(
                    value if process is None else process(value)
                    for value, process in zip(row, processors, strict=True)
                )
                for row in cursor.fetchall()
            ]
        count = cursor.rowcount
    except connection.dialect.loaded_dbapi.Error as error:
        raise sa_exc.DBAPIError.instance(
            direct.sql, bound, error, connection.dialect.loaded_dbapi.Error,
            dialect=connection.dialect,
        ) from error  # fmt: skip
    finally:
        cursor.close()
    return Outcome(rows, count)


def _plain(connection: Connection) -> bool:
    """Whether ``connection``'s statements may go to its DB-API cursor directly: SQLite, no
    echo, nobody listening to the cursor."""
    dispatch = connection.dispatch
    return (
        connection.dialect.name == "sqlite"
        and not connection.engine.echo
        and not dispatch.before_cursor_execute
        and not dispatch.after_cursor_execute
    )


def driver_sql(connection: Connection, sql: str) -> None:
    """Run ``sql``, a statement without values or rows (a SAVEPOINT, a BEGIN), as a kept
    statement runs: on SQLite on the DB-API cursor, else through SQLAlchemy."""
    if not _plain(connection):
        connection.exec_driver_sql(sql)
        return
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
    except dbapi.Error as error:
        raise sa_exc.DBAPIError.instance(
            sql, (), error, dbapi.Error, dialect=connection.dialect
        ) from error
    finally:
        cursor.close()


def _run(session: Session, statement: Executable, parameters: Mapping[str, Any]) -> Outcome:
    session.flush()
    connection = _connection(session)
    if _plain(connection):
        direct = _direct(statement, connection.dialect, parameters)
        if direct is not None:
            return _run_direct(connection, direct, parameters)
    result = connection.execute(statement, parameters)
    # Rows are tuples (unpacked, indexed) as they come: no copy.
    rows = cast(Sequence[tuple[Any, ...]], result.all()) if result.returns_rows else ()
    return Outcome(rows, result.rowcount)


async def run(
    session: AsyncSession, statement: Executable, parameters: Mapping[str, Any]
) -> Outcome:
    """Run ``statement`` (Core: no entities) in the session's transaction, after its flush."""
    return await session.run_sync(_run, statement, parameters)


Entity = TypeVar("Entity")


def columns(model: Any) -> tuple[Any, ...]:
    """The columns of ``model``'s table, in its order: what :func:`entity` takes a row of."""
    return tuple(model.__table__.columns)


def _new(model: type[Entity], values: Mapping[str, Any]) -> Entity:
    # As a query makes an entity: its state set from the row, no attribute events.
    made: Entity = class_mapper(model).class_manager.new_instance()
    made.__dict__.update(values)
    make_transient_to_detached(made)
    return made


def entity(session: AsyncSession, model: type[Entity], row: Sequence[Any]) -> Entity:
    """The entity of ``model`` for ``row`` (its table's columns, in order, as a kept statement
    read them), as a query gives it: the one the session holds, its attributes not yet loaded
    filled from the row, or else a new one the session now holds."""
    sync = session.sync_session
    kind: Any = model
    values = dict(zip(_keys(kind), row, strict=True))
    held = sync.identity_map.get(sync.identity_key(model, values["id"]))
    if held is not None:
        state = sa_inspect(held)
        for name in state.unloaded:
            set_committed_value(held, name, values[name])
        return cast(Entity, held)
    made = _new(model, values)
    sync.add(made)
    return made


@functools.lru_cache(maxsize=64)
def _keys(model: Any) -> tuple[str, ...]:
    return tuple(column.key for column in model.__table__.columns)


def hold(session: AsyncSession, model: type[Entity], values: Mapping[str, Any]) -> Entity:
    """Have ``session`` hold the entity of a row just written by a kept statement (``values``:
    every column), as if it had loaded it (persistent, nothing to flush)."""
    sync = session.sync_session
    made = _new(model, values)
    # A row written in a savepoint that was rolled back may have left its id behind.
    stale = sync.identity_map.get(sa_inspect(made).key)
    if stale is not None:
        sync.expunge(stale)
    sync.add(made)
    return made
