"""Appending to, and reading, the history of needs, pairings and offers.

An event is recorded in the transaction of the change it records, and written with the other
events of that transaction when it commits: one INSERT of many rows at the commit instead of
one at each change. A savepoint rolled back takes its events with it (they are dropped before
they are written), as the rollback of the whole transaction drops them all. A follower (the
notifications' outbox, see :func:`follow`) hears of the events in the same commit, on the
transaction's connection, after they are written: it gets the events' columns and, under
``need`` and ``pairing``, what the recorder held of the need and the pairing concerned as they
were when the event was recorded, so a change rolled back tells nobody anything. The session's
reads of events (:func:`history_of_need`) write those recorded so far first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import utcnow
from app.events.models import Event

Follower = Callable[[Connection, Sequence[Mapping[str, Any]]], None]
_followers: list[Follower] = []
COLUMNS = ("entity", "entity_id", "need_id", "action", "from_status", "to_status", "actor_id",
           "county_code", "reason", "at")  # fmt: skip
# Where a session keeps the events it recorded and has not written yet, and, for each savepoint
# open, how many there were when it began.
_PENDING = "aixin_events_pending"
_MARKS = "aixin_events_marks"


@dataclass(frozen=True, slots=True)
class NeedFacts:
    """What a follower hears of the need an event concerns, as it was when recorded."""

    id: int
    title: str
    category: str
    village_code: str


@dataclass(frozen=True, slots=True)
class PairingFacts:
    """What a follower hears of the pairing an event records, as it was after the change."""

    id: int
    donor_id: int
    thanked: bool


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


def _pending(session: Session) -> list[dict[str, Any]]:
    pending: list[dict[str, Any]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
    return pending


@orm_event.listens_for(Session, "after_transaction_create")
def _savepoint_begun(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.get(_MARKS)
        if marks is None:
            marks = session.info[_MARKS] = weakref.WeakKeyDictionary()
        marks[transaction] = len(session.info.get(_PENDING) or ())


@orm_event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous.nested:
        # What the savepoint recorded is undone with it.
        del pending[session.info[_MARKS].get(previous, len(pending)) :]
    elif previous.parent is None:
        pending.clear()


@orm_event.listens_for(Session, "before_commit")
def _committing(session: Session) -> None:
    # A savepoint's release keeps its events for the transaction's commit.
    if not session.in_nested_transaction():
        _write(session)


@orm_event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.get(_PENDING):
        # Written at the commit, or never (a rollback, a session closed without committing).
        session.info[_PENDING].clear()


# The events of a transaction are written in one statement, built once.
_INSERT = insert(Event)


def _write(session: Session) -> None:
    """Write the events recorded so far, then tell the followers, in the session's transaction."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    rows = list(pending)
    pending.clear()
    # A savepoint rolled back from now on drops only what it records after this write.
    marks: weakref.WeakKeyDictionary[SessionTransaction, int] = session.info.get(
        _MARKS, weakref.WeakKeyDictionary()
    )
    for transaction in list(marks):
        marks[transaction] = 0
    session.flush()
    connection = session.connection()
    connection.execute(_INSERT, [{c: row[c] for c in COLUMNS} for row in rows])
    if _followers:
        _tell(connection, rows)


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
    """Append one event to the transaction of the change it records (written at its commit).

    ``need``, the need concerned as the caller holds it (its id, title, category and village
    code), and ``pairing``, the pairing an event of a pairing records as the caller holds it
    after the change (its id, donor and whether the donor was thanked), go to the followers
    with the event (as they are now), so that they need not read them again.
    """
    row: dict[str, Any] = {
        "entity": entity, "entity_id": entity_id, "need_id": need_id, "action": action,
        "from_status": from_status, "to_status": to_status, "actor_id": actor_id,
        "county_code": county_code, "reason": reason, "at": utcnow(),
    }  # fmt: skip
    if need is not None:
        row["need"] = NeedFacts(need.id, need.title, need.category, need.village_code)
    if pairing is not None:
        row["pairing"] = PairingFacts(pairing.id, pairing.donor_id, pairing.thanks is not None)
    _pending(session.sync_session).append(row)


async def record_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append many events (a matching run's proposals, a set-based move), written with the
    transaction's other events at its commit."""
    now = utcnow()
    _pending(session.sync_session).extend(
        {**dict.fromkeys(COLUMNS), "at": now, **row} for row in rows
    )


async def write_recorded(session: AsyncSession) -> None:
    """Write the events this session recorded so far, before a read of them."""
    if session.sync_session.info.get(_PENDING):
        await session.run_sync(_write)


async def history_of_need(session: AsyncSession, need_id: int) -> Sequence[Event]:
    """Every event of a need and of its pairings, oldest first."""
    await write_recorded(session)
    result = await session.scalars(select(Event).where(Event.need_id == need_id).order_by(Event.id))
    return result.all()
