"""Appending to, and reading, the history of needs, pairings and offers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
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


async def history_of_need(session: AsyncSession, need_id: int) -> Sequence[Event]:
    """Every event of a need and of its pairings, oldest first."""
    result = await session.scalars(select(Event).where(Event.need_id == need_id).order_by(Event.id))
    return result.all()
