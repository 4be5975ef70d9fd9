"""Kept Core statements, run on the session's connection without the ORM's per-statement work.

A statement built once (a compare-and-set, a count, an event's insert) names no entity to load,
yet ``session.execute`` prepares each one for the ORM all the same, which costs more than the
statement itself on the hot paths. :func:`run` flushes what the session holds first, as the
session does before each statement, so the statement sees every change made so far; then it
runs the statement on the transaction's connection and hands back what it returned, read at
once: its rows if it returns rows, else how many rows it changed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Executable
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value


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


def _run(session: Session, statement: Executable, parameters: Mapping[str, Any]) -> Outcome:
    session.flush()
    result = _connection(session).execute(statement, parameters)
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
