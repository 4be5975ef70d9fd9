"""Reading regions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.regions.models import LEVEL_LENGTHS, Region


async def get_region(session: AsyncSession, code: str) -> Region:
    region = await session.get(Region, code)
    if region is None:
        raise NotFound(f"No region has the code {code}", code="region_not_found")
    return region


async def ancestors_of(session: AsyncSession, code: str) -> Sequence[Region]:
    """The regions containing ``code``, province first (one query)."""
    prefixes = [code[:length] for length in LEVEL_LENGTHS.values() if length < len(code)]
    if not prefixes:
        return []
    result = await session.scalars(
        select(Region).where(Region.code.in_(prefixes)).order_by(Region.code)
    )
    return result.all()


async def children_of(session: AsyncSession, parent_code: str | None) -> Sequence[Region]:
    """The regions directly below ``parent_code``, or the provinces when it is None."""
    if parent_code is not None:
        await get_region(session, parent_code)
    condition = (
        Region.parent_code.is_(None) if parent_code is None else Region.parent_code == parent_code
    )
    result = await session.scalars(select(Region).where(condition).order_by(Region.code))
    return result.all()
