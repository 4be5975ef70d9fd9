"""Appending to, and reading, the history of needs, pairings and offers.

A follower (the notifications' outbox, see :func:`follow`) hears of each event in the
transaction that records it: it gets the events' columns (and, under ``need`` and ``pairing``,
the need and the pairing concerned when the recorder held them) and the transaction's
connection when the events are written (the insert of :func:`record` or :func:`record_many`, or
the flush of an ``Event`` added to the session), so a change rolled back tells nobody anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import Event

Follower = Callable[[Connection, Sequence[Mapping[str, Any]]], None]
_followers: list[Follower] = []
COLUMNS = ("entity", "entity_id", "need_id", "action", "from_status", "to_status", "actor_id",
           "county_code", "reason", "at")  # fmt: skip


def follow(follower: Follower) -> None:
    """Have ``follower`` hear of every event recorded in this process, in its transaction."""
    if follower not in _followers:
        _followers.append(follower)


def _tell(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    for follower in _followers:
        follower(connection, rows)


@orm_event.listens_for(Session, "after_flush")
def _recorded(session: Session, _context: Any) -> None:
    written = sorted((o for o in session.new if isinstance(o, Event)), key=lambda e: e.id)
    if written and _followers:
        _tell(session.connection(), [{c: getattr(e, c) for c in COLUMNS} for e in written])


# Every change records one: built once, its values bound at execution.
_INSERT = insert(Event)


async def record(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int,
    action: str,
    from_status: str | None,
    to_status: str | None,
    actor_id: int | None,
    need_id: int | None = None,
    county_code: str | None = None,
    reason: str | None = None,
    need: Any = None,
    pairing: Any = None,
) -> None:
    """Append one event, written now in the transaction of the change it records.

    What the session holds is flushed first, so the events keep the order of the changes.
    ``need``, the need concerned as the caller holds it (its id, title, category and village
    code), and ``pairing``, the pairing an event of a pairing records as the caller holds it
    after the change (its id, donor and thanks), go to the followers with the event, so that
    they need not read them again.
    """
    row = {
        "entity": entity, "entity_id": entity_id, "need_id": need_id, "action": action,
        "from_status": from_status, "to_status": to_status, "actor_id": actor_id,
        "county_code": county_code, "reason": reason, "at": utcnow(),
    }  # fmt: skip
    held = {
        name: value for name, value in (("need", need), ("pairing", pairing)) if value is not None
    }
    await session.run_sync(_write, row, held)


def _write(session: Session, row: dict[str, Any], held: dict[str, Any]) -> None:
    session.flush()
    connection = session.connection()
    connection.execute(_INSERT, row)
    if _followers:
        _tell(connection, [{**row, **held} if held else row])


async def record_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append many events in one statement (a matching run's proposals, a set-based move).

    What the session holds is flushed first, so the events keep the order of the changes.
    """
    if not rows:
        return
    await session.flush()
    await session.execute(insert(Event), [dict(row) for row in rows])
    if _followers:
        await session.run_sync(lambda sync: _tell(sync.connection(), rows))


async def history_of_need(session: AsyncSession, need_id: int) -> Sequence[Event]:
    """Every event of a need and of its pairings, oldest first."""
    result = await session.scalars(select(Event).where(Event.need_id == need_id).order_by(Event.id))
    return result.all()
