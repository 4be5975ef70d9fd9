"""Kept Core statements, run on the session's connection without the ORM's per-statement work.

A statement built once (a compare-and-set, a count, an event's insert) names no entity to load,
yet ``session.execute`` prepares each one for the ORM all the same, which costs more than the
statement itself on the hot paths. :func:`run` flushes what the session holds first, as the
session does before each statement, so the statement sees every change made so far; then it
runs the statement on the transaction's connection and hands back what it returned, read at
once: its rows if it returns rows, else how many rows it changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a statement returned: its rows (none for a statement that returns none), and the
    count of rows it changed (an UPDATE's or DELETE's)."""

    rows: Sequence[tuple[Any, ...]]
    rowcount: int

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows else None


def _run(session: Session, statement: Executable, parameters: Mapping[str, Any]) -> Outcome:
    session.flush()
    result = session.connection().execute(statement, parameters)
    # Rows are tuples (unpacked, indexed) as they come: no copy.
    rows = cast(Sequence[tuple[Any, ...]], result.all()) if result.returns_rows else ()
    return Outcome(rows, result.rowcount)


async def run(
    session: AsyncSession, statement: Executable, parameters: Mapping[str, Any]
) -> Outcome:
    """Run ``statement`` (Core: no entities) in the session's transaction, after its flush."""
    return await session.run_sync(_run, statement, parameters)
