"""Listing pairings: a donor's own, or those in an admin's scope."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.pairings.models import Pairing


async def list_pairings(
    session: AsyncSession,
    user: User,
    *,
    statuses: Sequence[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Pairing], str | None]:
    """Newest first, a page at a time."""
    if user.is_admin:
        assert user.scope_code is not None
        visible = Scope(user.scope_code).where(Pairing.village_code)
    else:
        visible = Pairing.donor_id == user.id
    statement = select(Pairing).where(visible)
    if statuses:
        statement = statement.where(Pairing.status.in_(statuses))
    return await page_by_id(session, statement, Pairing.id, limit=limit, cursor=cursor)
