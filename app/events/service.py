"""Appending to, and reading, the history of needs, pairings and offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event


def record(
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
) -> Event:
    """Append one event; it is written with the transaction of the change it records."""
    event = Event(
        entity=entity,
        entity_id=entity_id,
        need_id=need_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        county_code=county_code,
        reason=reason,
    )
    session.add(event)
    return event


async def record_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append many events in one statement (a matching run's proposals, a set-based move).

    What the session holds is flushed first, so the events keep the order of the changes.
    """
    if not rows:
        return
    await session.flush()
    await session.execute(insert(Event), [dict(row) for row in rows])


async def history_of_need(session: AsyncSession, need_id: int) -> Sequence[Event]:
    """Every event of a need and of its pairings, oldest first."""
    result = await session.scalars(select(Event).where(Event.need_id == need_id).order_by(Event.id))
    return result.all()
